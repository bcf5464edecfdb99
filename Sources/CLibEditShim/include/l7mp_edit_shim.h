#ifndef L7MP_EDIT_SHIM_H
#define L7MP_EDIT_SHIM_H
// libedit's el_set/el_get are C-variadic, which Swift cannot call; these fixed-arity wrappers can.
// The stdio globals are not concurrency-safe to touch from Swift 6, so they are handed out from C.
#include <stdio.h>
#include <histedit.h>

typedef char *(*l7mp_prompt_fn)(EditLine *);
typedef unsigned char (*l7mp_command_fn)(EditLine *, int);

FILE *l7mp_stdin(void);
FILE *l7mp_stdout(void);
FILE *l7mp_stderr(void);

EditLine *l7mp_el_init(const char *program);
int l7mp_el_set_prompt(EditLine *el, l7mp_prompt_fn prompt);
int l7mp_el_set_editor(EditLine *el, const char *mode);
int l7mp_el_set_history(EditLine *el, History *history);
int l7mp_el_add_function(EditLine *el, const char *name, const char *help, l7mp_command_fn fn);
int l7mp_el_bind(EditLine *el, const char *key, const char *command);
int l7mp_el_set_client_data(EditLine *el, void *data);
void *l7mp_el_get_client_data(EditLine *el);

History *l7mp_history_init(int size);
int l7mp_history_enter(History *h, const char *line);
int l7mp_history_load(History *h, const char *path);
int l7mp_history_save(History *h, const char *path);
void l7mp_history_end(History *h);

// SIGINT (Ctrl-C) ends el_gets (it returns NULL) instead of ending the process: the handler
// notes it for the shim's character reader (l7mp_el_set_getc).
int l7mp_catch_sigint(void);
// Reads characters through the shim, so that Ctrl-C ends el_gets (see shim.c).
int l7mp_el_set_getc(EditLine *el);
// Puts the terminal in libedit's editing (raw) mode now. Called before each el_gets: when keys
// are already waiting, el_gets itself stays in the terminal's line mode for that line, and a
// Ctrl-D typed then reaches libedit as a NUL character instead of end of input.
int l7mp_el_raw_mode(EditLine *el);
// Whether the last el_gets ended because of Ctrl-C (and forgets it).
int l7mp_take_interrupt(void);

#endif
