#include "l7mp_edit_shim.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

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

// Ctrl-C at the prompt. libedit retries a read() that SIGINT interrupts, so the signal handler
// only notes it and the character reader (installed with EL_GETCFN) ends the wait for a key: el_gets then
// returns NULL, and `l7mp_take_interrupt` tells the REPL it was Ctrl-C, not end of input.
static volatile sig_atomic_t l7mp_sigint_pending = 0;
static int l7mp_interrupted = 0;

static void l7mp_note_sigint(int signo) {
  (void)signo;
  l7mp_sigint_pending = 1;
}

static int l7mp_getc(EditLine *el, wchar_t *wc) {
  (void)el;
  unsigned char buf[MB_LEN_MAX];
  size_t n = 0;
  for (;;) {
    if (l7mp_sigint_pending) {
      l7mp_sigint_pending = 0;
      l7mp_interrupted = 1;
      errno = EINTR;
      return -1;
    }
    // libedit's own handlers restart an interrupted read(), so the flag is looked at every
    // 100 ms while waiting for a key.
    struct pollfd ready = {.fd = STDIN_FILENO, .events = POLLIN, .revents = 0};
    int polled = poll(&ready, 1, n == 0 ? 100 : -1);
    if (polled == 0) continue;
    if (polled < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    ssize_t r = read(STDIN_FILENO, buf + n, 1);
    if (r == 0) return 0;
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    n++;
    mbstate_t state;
    memset(&state, 0, sizeof state);
    size_t k = mbrtowc(wc, (const char *)buf, n, &state);
    if (k == (size_t)-2 && n < MB_LEN_MAX) continue;  // the rest of a multibyte character
    if (k == (size_t)-1 || k == (size_t)-2) *wc = (wchar_t)buf[0];  // not valid: the byte
    return 1;
  }
}

int l7mp_catch_sigint(void) {
  // A process can start with SIGINT blocked (a parent's thread blocked it and the mask is
  // inherited); then Ctrl-C would stay pending forever.
  sigset_t interrupt;
  sigemptyset(&interrupt);
  sigaddset(&interrupt, SIGINT);
  pthread_sigmask(SIG_UNBLOCK, &interrupt, NULL);
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = l7mp_note_sigint;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;
  return sigaction(SIGINT, &action, NULL);
}

int l7mp_el_set_getc(EditLine *el) { return el_set(el, EL_GETCFN, l7mp_getc); }

int l7mp_el_raw_mode(EditLine *el) { return el_set(el, EL_PREP_TERM, 1); }

int l7mp_take_interrupt(void) {
  int was = l7mp_interrupted;
  l7mp_interrupted = 0;
  return was;
}
