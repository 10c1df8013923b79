/*
 * IPC throughput and round trip between two processes, run unchanged in the global
 * zone and inside a zone by bench/ipc.ts. Prints one line a measurement:
 *   <name> <value> <unit>
 * Throughputs are MiB/s; round trips are the p50 and p99 of single round trips, in us.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define CHUNK (64 * 1024)
#define TOTAL (512L * 1024 * 1024)
#define TRIPS 20000
#define MSG_SIZE 4096

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void trips(const char *name, double *t) {
  qsort(t, TRIPS, sizeof *t, cmp);
  printf("%s-rtt-p50 %.2f us\n%s-rtt-p99 %.2f us\n", name, t[TRIPS / 2] * 1e6, name, t[TRIPS * 99 / 100] * 1e6);
}

static void writeall(int fd, const char *b, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, b, n);
    if (w <= 0) die("write");
    b += w;
    n -= (size_t)w;
  }
}

/* A stream pair (pipe pair or socketpair): throughput one way, then 1-byte round trips. */
static void stream(const char *name, int up[2], int down[2]) {
  static char buf[CHUNK];
  pid_t pid = fork();
  if (pid == 0) {
    long got = 0;
    while (got < TOTAL) {
      ssize_t r = read(up[0], buf, CHUNK);
      if (r <= 0) die("read");
      got += r;
    }
    writeall(down[1], "k", 1);
    for (int i = 0; i < TRIPS; i++) {
      if (read(up[0], buf, 1) != 1) die("read");
      writeall(down[1], buf, 1);
    }
    _exit(0);
  }
  double t0 = now();
  for (long sent = 0; sent < TOTAL; sent += CHUNK) writeall(up[1], buf, CHUNK);
  if (read(down[0], buf, 1) != 1) die("read");
  printf("%s-throughput %.1f MiB/s\n", name, TOTAL / 1048576.0 / (now() - t0));
  static double t[TRIPS];
  for (int i = 0; i < TRIPS; i++) {
    double s = now();
    writeall(up[1], "x", 1);
    if (read(down[0], buf, 1) != 1) die("read");
    t[i] = now() - s;
  }
  trips(name, t);
  waitpid(pid, NULL, 0);
}

struct msg {
  long type;
  char text[MSG_SIZE];
};

/* SysV messages: type 1 goes to the child, type 2 comes back. */
static void sysv_msg(void) {
  int q = msgget(IPC_PRIVATE, 0600);
  if (q < 0) die("msgget");
  static struct msg m;
  long n = TOTAL / 8 / MSG_SIZE;
  pid_t pid = fork();
  if (pid == 0) {
    for (long i = 0; i < n; i++)
      if (msgrcv(q, &m, MSG_SIZE, 1, 0) < 0) die("msgrcv");
    m.type = 2;
    if (msgsnd(q, &m, 1, 0) < 0) die("msgsnd");
    for (int i = 0; i < TRIPS; i++) {
      if (msgrcv(q, &m, MSG_SIZE, 1, 0) < 0) die("msgrcv");
      m.type = 2;
      if (msgsnd(q, &m, 1, 0) < 0) die("msgsnd");
    }
    _exit(0);
  }
  double t0 = now();
  for (long i = 0; i < n; i++) {
    m.type = 1;
    if (msgsnd(q, &m, MSG_SIZE, 0) < 0) die("msgsnd");
  }
  if (msgrcv(q, &m, MSG_SIZE, 2, 0) < 0) die("msgrcv");
  printf("sysv-msg-throughput %.1f MiB/s\n", n * (double)MSG_SIZE / 1048576.0 / (now() - t0));
  static double t[TRIPS];
  for (int i = 0; i < TRIPS; i++) {
    double s = now();
    m.type = 1;
    if (msgsnd(q, &m, 1, 0) < 0) die("msgsnd");
    if (msgrcv(q, &m, MSG_SIZE, 2, 0) < 0) die("msgrcv");
    t[i] = now() - s;
  }
  trips("sysv-msg", t);
  waitpid(pid, NULL, 0);
  msgctl(q, IPC_RMID, NULL);
}

static void semop1(int sem, unsigned short n, short op) {
  struct sembuf b = {n, op, 0};
  if (semop(sem, &b, 1) < 0) die("semop");
}

/*
 * SysV shared memory: the parent fills a 1 MiB segment, the child copies it out; a
 * semaphore pair hands the buffer back and forth. Round trips are semaphore ping-pong.
 */
static void sysv_shm(void) {
  const size_t size = 1 << 20;
  int shm = shmget(IPC_PRIVATE, size, 0600);
  int sem = semget(IPC_PRIVATE, 2, 0600);
  if (shm < 0 || sem < 0) die("shmget/semget");
  char *seg = shmat(shm, NULL, 0);
  if (seg == (void *)-1) die("shmat");
  shmctl(shm, IPC_RMID, NULL);
  long n = TOTAL / (long)size;
  pid_t pid = fork();
  if (pid == 0) {
    char *out = malloc(size);
    for (long i = 0; i < n + TRIPS; i++) {
      semop1(sem, 0, -1);
      if (i < n) memcpy(out, seg, size);
      semop1(sem, 1, 1);
    }
    _exit(0);
  }
  char *in = malloc(size);
  memset(in, 7, size);
  double t0 = now();
  for (long i = 0; i < n; i++) {
    memcpy(seg, in, size);
    semop1(sem, 0, 1);
    semop1(sem, 1, -1);
  }
  printf("sysv-shm-throughput %.1f MiB/s\n", n * (double)size / 1048576.0 / (now() - t0));
  static double t[TRIPS];
  for (int i = 0; i < TRIPS; i++) {
    double s = now();
    semop1(sem, 0, 1);
    semop1(sem, 1, -1);
    t[i] = now() - s;
  }
  trips("sysv-sem", t);
  waitpid(pid, NULL, 0);
  semctl(sem, 0, IPC_RMID);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int a[2], b[2];
  if (pipe(a) || pipe(b)) die("pipe");
  stream("pipe", a, b);
  int s[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, s)) die("socketpair");
  int up[2] = {s[1], s[0]}, down[2] = {s[0], s[1]};
  stream("unix", up, down);
  sysv_msg();
  sysv_shm();
  return 0;
}
