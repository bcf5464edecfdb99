#include "l7mp_edit_shim.h"

#include <signal.h>
#include <string.h>

FILE *l7mp_stdin(void) { return stdin; }
FILE *l7mp_stdout(void) { return stdout; }
FILE *l7mp_stderr(void) { return stderr; }

EditLine *l7mp_el_init(const char *program) { return el_init(program, stdin, stdout, stderr); }
int l7mp_el_set_prompt(EditLine *el, l7mp_prompt_fn prompt) { return el_set(el, EL_PROMPT, prompt); }
int l7mp_el_set_editor(EditLine *el, const char *mode) { return el_set(el, EL_EDITOR, mode); }
// EL_HIST takes libedit's `history` function and the History to pass it.
int l7mp_el_set_history(EditLine *el, History *h) { return el_set(el, EL_HIST, history, h); }
int l7mp_el_add_function(EditLine *el, const char *name, const char *help, l7mp_command_fn fn) {
  return el_set(el, EL_ADDFN, name, help, fn);
}
int l7mp_el_bind(EditLine *el, const char *key, const char *command) {
  return el_set(el, EL_BIND, key, command, NULL);
}
int l7mp_el_set_client_data(EditLine *el, void *data) { return el_set(el, EL_CLIENTDATA, data); }
void *l7mp_el_get_client_data(EditLine *el) {
  void *data = NULL;
  el_get(el, EL_CLIENTDATA, &data);
  return data;
}

History *l7mp_history_init(int size) {
  History *h = history_init();
  HistEvent ev;
  history(h, &ev, H_SETSIZE, size);
  history(h, &ev, H_SETUNIQUE, 1);
  return h;
}
int l7mp_history_enter(History *h, const char *line) {
  HistEvent ev;
  return history(h, &ev, H_ENTER, line);
}
int l7mp_history_load(History *h, const char *path) {
  HistEvent ev;
  return history(h, &ev, H_LOAD, path);
}
int l7mp_history_save(History *h, const char *path) {
  HistEvent ev;
  return history(h, &ev, H_SAVE, path);
}
void l7mp_history_end(History *h) { history_end(h); }

static void l7mp_ignore_signal(int signo) { (void)signo; }

int l7mp_catch_sigint(void) {
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = l7mp_ignore_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;
  return sigaction(SIGINT, &action, NULL);
}
