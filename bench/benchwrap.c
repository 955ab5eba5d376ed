/* benchwrap: run one command, optionally with an allocator preloaded, and
 * report its wall-clock time, CPU time and peak resident set size.
 *
 *   benchwrap [-p lib.so] [-o result-file] [-T timeout-seconds] -- cmd [args...]
 *
 * -p sets LD_PRELOAD=lib.so for the command only (without -p, LD_PRELOAD is
 * removed from its environment, i.e. the system allocator is used), so the
 * wrapper itself never runs on the allocator under test. The result is one
 * line of key=value pairs, written to the result file (or stderr):
 *
 *   wall=1.2345 user=1.100 sys=0.120 maxrss_kb=12345 status=0
 *
 * status is the exit status, 128+signal if the command was killed, and 124 if
 * it ran past the timeout (it is then killed with SIGKILL). The exit status
 * of benchwrap is the same number.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t timed_out = 0;
static void on_alarm(int sig) { (void)sig; timed_out = 1; }

static void usage(void) {
  fprintf(stderr, "usage: benchwrap [-p lib.so] [-o result-file] [-T timeout-seconds] -- cmd [args...]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *preload = NULL, *out = NULL;
  int timeout = 0, c;
  while ((c = getopt(argc, argv, "+p:o:T:h")) != -1) {
    switch (c) {
      case 'p': preload = optarg; break;
      case 'o': out = optarg; break;
      case 'T': timeout = atoi(optarg); break;
      default: usage();
    }
  }
  if (optind >= argc) usage();
  char **cmd = &argv[optind];

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm; /* no SA_RESTART: wait4 returns EINTR */
  sigaction(SIGALRM, &sa, NULL);

  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pid_t pid = fork();
  if (pid < 0) { perror("benchwrap: fork"); return 2; }
  if (pid == 0) {
    if (preload && *preload) setenv("LD_PRELOAD", preload, 1);
    else unsetenv("LD_PRELOAD");
    execvp(cmd[0], cmd);
    fprintf(stderr, "benchwrap: cannot run %s: %s\n", cmd[0], strerror(errno));
    _exit(127);
  }
  if (timeout > 0) alarm((unsigned)timeout);
  int st = 0;
  struct rusage ru;
  for (;;) {
    pid_t w = wait4(pid, &st, 0, &ru);
    if (w == pid) break;
    if (w < 0 && errno == EINTR) {
      if (timed_out) kill(pid, SIGKILL);
      continue;
    }
    perror("benchwrap: wait4");
    return 2;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  alarm(0);

  int status;
  if (timed_out) status = 124;
  else if (WIFEXITED(st)) status = WEXITSTATUS(st);
  else if (WIFSIGNALED(st)) status = 128 + WTERMSIG(st);
  else status = 125;

  double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
  double user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6;
  double sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
  FILE *f = out ? fopen(out, "w") : stderr;
  if (!f) { perror("benchwrap: result file"); f = stderr; }
  fprintf(f, "wall=%.4f user=%.3f sys=%.3f maxrss_kb=%ld status=%d\n", wall, user, sys, ru.ru_maxrss, status);
  if (f != stderr) fclose(f);
  return status;
}
