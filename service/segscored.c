/* segscored.c - the HTTP daemon's main: configuration from flags and
 * SEGSCORE_* variables, the thread budget (workers x threads-per-job <=
 * cores), libmicrohttpd start-up, signals by sigwait, and the drain on
 * SIGTERM/SIGINT.  Requests are dispatched in svc_router.c.
 * SPDX-License-Identifier: MIT */
#include "svc.h"

#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

svc_state svc;

#define MB ((uint64_t)1 << 20)

/*---- Configuration -----------------------------------------------------*/

typedef enum { OPT_STR, OPT_INT, OPT_U64, OPT_MB, OPT_FLAG } opt_kind;

typedef struct {
  const char *flag, *env;
  opt_kind kind;
  size_t off, size;
  const char *help;
} opt_spec;

#define CFG(field) offsetof(svc_config, field), sizeof(((svc_config *)0)->field)
static const opt_spec opts[] = {
  { "listen", "SEGSCORE_LISTEN", OPT_STR, CFG(listen),
    "address:port to listen on (127.0.0.1:8080; [::1]:8080; :8080 = all)" },
  { "workers", "SEGSCORE_WORKERS", OPT_INT, CFG(workers),
    "scoring worker threads (default: cores / threads-per-job)" },
  { "threads-per-job", "SEGSCORE_THREADS_PER_JOB", OPT_INT,
    CFG(threads_per_job), "OpenMP threads per job (default from cores)" },
  { "queue", "SEGSCORE_QUEUE", OPT_INT, CFG(queue),
    "jobs that may wait for a worker beyond the running ones (8)" },
  { "max-upload-mb", "SEGSCORE_MAX_UPLOAD_MB", OPT_MB, CFG(max_upload_bytes),
    "request body limit in MiB (1024)" },
  { "max-voxels", "SEGSCORE_MAX_VOXELS", OPT_U64, CFG(max_voxels),
    "voxels x channels per volume (1073741824)" },
  { "max-decompressed-mb", "SEGSCORE_MAX_DECOMPRESSED_MB", OPT_MB,
    CFG(max_decompressed_bytes), "decoded NIfTI size per volume, MiB (4096)" },
  { "max-memory-mb", "SEGSCORE_MAX_MEMORY_MB", OPT_MB, CFG(max_memory_bytes),
    "admission memory budget in MiB (default: half of RAM or cgroup limit)" },
  { "timeout", "SEGSCORE_TIMEOUT", OPT_INT, CFG(timeout_s),
    "connection inactivity timeout, seconds (30)" },
  { "deadline", "SEGSCORE_DEADLINE", OPT_INT, CFG(deadline_s),
    "whole-request deadline (upload + queue), seconds (600)" },
  { "grace", "SEGSCORE_GRACE", OPT_INT, CFG(grace_s),
    "seconds to finish in-flight jobs after SIGTERM (60)" },
  { "token-file", "SEGSCORE_TOKEN_FILE", OPT_STR, CFG(token_file),
    "bearer tokens, one per line; /v1/* then need one" },
  { "tls-cert", "SEGSCORE_TLS_CERT", OPT_STR, CFG(tls_cert),
    "PEM certificate (with --tls-key: serve HTTPS)" },
  { "tls-key", "SEGSCORE_TLS_KEY", OPT_STR, CFG(tls_key), "PEM private key" },
  { "test-job-delay-ms", "SEGSCORE_TEST_JOB_DELAY_MS", OPT_INT,
    CFG(job_delay_ms), NULL /* tests only: sleep before each job */ },
};
#define NOPTS (sizeof opts / sizeof *opts)

static void
usage(FILE *f)
{
  fprintf(f, "usage: segscored [options]   (each also as its SEGSCORE_* "
             "variable; flags win)\n");
  for (size_t i = 0; i < NOPTS; i++)
    if (opts[i].help != NULL)
      fprintf(f, "  --%-22s %s  [%s]\n", opts[i].flag, opts[i].help,
              opts[i].env);
  fprintf(f,
          "  --%-22s probe this instance's /healthz, exit 0 if healthy\n"
          "  --%-22s this text\n",
          "healthcheck", "help");
}

static int
set_opt(svc_config *cfg, const opt_spec *o, const char *val)
{
  char *p = (char *)cfg + o->off, *end;
  if (o->kind == OPT_STR) {
    if (strlen(val) >= o->size)
      return -1;
    memcpy(p, val, strlen(val) + 1);
    return 0;
  }
  errno = 0;
  unsigned long long v = strtoull(val, &end, 10);
  if (errno != 0 || end == val || *end != '\0' || val[0] == '-')
    return -1;
  if (o->kind == OPT_INT) {
    if (v > 1000000)
      return -1;
    *(int *)p = (int)v;
  } else if (o->kind == OPT_MB) {
    if (v == 0 || v > (UINT64_MAX >> 21))
      return -1;
    *(uint64_t *)p = v * MB;
  } else {
    *(uint64_t *)p = v;
  }
  return 0;
}

/* Config from the environment, then flags.  Returns -1 on a usage error,
 * 1 for --help, 2 for --healthcheck, 0 otherwise. */
static int
config_load(svc_config *cfg, int argc, char **argv)
{
  int mode = 0;
  *cfg = (svc_config){ .listen = "127.0.0.1:8080",
                       .workers = -1,
                       .threads_per_job = -1,
                       .queue = 8,
                       .max_upload_bytes = 1024 * MB,
                       .max_voxels = SS_DEFAULT_MAX_VOXELS,
                       .max_decompressed_bytes = 4096 * MB,
                       .timeout_s = 30,
                       .deadline_s = 600,
                       .grace_s = 60 };
  for (size_t i = 0; i < NOPTS; i++) {
    const char *v = getenv(opts[i].env);
    if (v != NULL && *v != '\0' && set_opt(cfg, &opts[i], v) != 0) {
      fprintf(stderr, "segscored: bad value for %s\n", opts[i].env);
      return -1;
    }
  }
  for (int a = 1; a < argc; a++) {
    const char *arg = argv[a];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
      return 1;
    if (strcmp(arg, "--healthcheck") == 0) {
      mode = 2;
      continue;
    }
    if (strncmp(arg, "--", 2) != 0) {
      fprintf(stderr, "segscored: unknown argument '%s' (see --help)\n", arg);
      return -1;
    }
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
    const opt_spec *o = NULL;
    for (size_t i = 0; i < NOPTS; i++)
      if (strlen(opts[i].flag) == nlen
          && strncmp(opts[i].flag, name, nlen) == 0)
        o = &opts[i];
    if (o == NULL) {
      fprintf(stderr, "segscored: unknown flag '%s' (see --help)\n", arg);
      return -1;
    }
    const char *val = eq ? eq + 1 : (a + 1 < argc ? argv[++a] : NULL);
    if (val == NULL || set_opt(cfg, o, val) != 0) {
      fprintf(stderr, "segscored: bad value for --%s\n", o->flag);
      return -1;
    }
  }
  return mode;
}

/*---- Budgets from the machine or the container -------------------------*/

static int
cpu_budget(void)
{
  int n = 1;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    n = CPU_COUNT(&set);
  else if (sysconf(_SC_NPROCESSORS_ONLN) > 0)
    n = (int)sysconf(_SC_NPROCESSORS_ONLN);
  double quota = -1, period = -1;
  FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r"); /* cgroup v2 */
  if (f != NULL) {
    char q[32];
    if (fscanf(f, "%31s %lf", q, &period) == 2 && strcmp(q, "max") != 0)
      quota = atof(q);
    fclose(f);
  } else if ((f = fopen("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "r"))) {
    if (fscanf(f, "%lf", &quota) != 1)
      quota = -1;
    fclose(f);
    if ((f = fopen("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "r"))) {
      if (fscanf(f, "%lf", &period) != 1)
        period = -1;
      fclose(f);
    }
  }
  if (quota > 0 && period > 0) {
    int lim = (int)ceil(quota / period);
    if (lim >= 1 && lim < n)
      n = lim;
  }
  return n < 1 ? 1 : n;
}

static uint64_t
memory_budget(void)
{
  uint64_t total
      = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
  const char *paths[] = { "/sys/fs/cgroup/memory.max",
                          "/sys/fs/cgroup/memory/memory.limit_in_bytes" };
  for (int i = 0; i < 2; i++) {
    FILE *f = fopen(paths[i], "r");
    unsigned long long v;
    if (f == NULL)
      continue;
    if (fscanf(f, "%llu", &v) == 1 && v > 0 && v < total)
      total = v;
    fclose(f);
  }
  return total / 2;
}

/* workers x threads_per_job <= cores; defaults favour several workers on
 * small machines and 2-4 threads per job on large ones. */
static void
thread_budget(svc_config *cfg)
{
  int cores = cfg->cores;
  int w = cfg->workers, t = cfg->threads_per_job;
  if (w <= 0 && t <= 0) {
    t = cores >= 16 ? 4 : cores >= 4 ? 2 : 1;
    w = cores / t;
  } else if (w <= 0) {
    w = cores / t;
  } else if (t <= 0) {
    t = cores / w;
  }
  if (w < 1)
    w = 1;
  if (t < 1)
    t = 1;
  if (w * t > cores) {
    /* Threads give way first; more workers than cores were asked for
     * explicitly, so they stay, with a warning. */
    int t2 = cores / w > 0 ? cores / w : 1;
    svc_log("warn", "workers x threads-per-job exceeds the cores",
            "{\"cores\":%d,\"workers\":%d,\"threads_per_job\":%d,"
            "\"threads_per_job_now\":%d,\"oversubscribed\":%s}",
            cores, w, t, t2, w * t2 > cores ? "true" : "false");
    t = t2;
  }
  cfg->workers = w;
  cfg->threads_per_job = t;
}

/*---- Start-up helpers --------------------------------------------------*/

/* Split "host:port", "[v6]:port" or ":port". */
static int
split_listen(const char *listen, char *host, size_t hcap, char *port,
             size_t pcap)
{
  const char *colon;
  if (listen[0] == '[') {
    const char *close = strchr(listen, ']');
    if (close == NULL || close[1] != ':')
      return -1;
    snprintf(host, hcap, "%.*s", (int)(close - listen - 1), listen + 1);
    colon = close + 1;
  } else {
    colon = strrchr(listen, ':');
    if (colon == NULL)
      return -1;
    snprintf(host, hcap, "%.*s", (int)(colon - listen), listen);
  }
  snprintf(port, pcap, "%s", colon + 1);
  return port[0] ? 0 : -1;
}

static int
resolve_listen(const char *listen, struct sockaddr_storage *ss,
               socklen_t *sslen, bool for_connect)
{
  char host[256], port[16];
  if (split_listen(listen, host, sizeof host, port, sizeof port) != 0)
    return -1;
  if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0)
    snprintf(host, sizeof host, for_connect ? "127.0.0.1" : "0.0.0.0");
  else if (for_connect && strcmp(host, "::") == 0)
    snprintf(host, sizeof host, "::1");
  struct addrinfo hints
      = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV },
      *res = NULL;
  if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
    return -1;
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  *sslen = res->ai_addrlen;
  freeaddrinfo(res);
  return 0;
}

static char *
read_file(const char *path)
{
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return NULL;
  char *buf = NULL;
  size_t len = 0, cap = 0, n;
  char chunk[4096];
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (len + n + 1 > cap) {
      cap = (len + n + 1) * 2;
      char *p = realloc(buf, cap);
      if (p == NULL) {
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = p;
    }
    memcpy(buf + len, chunk, n);
    len += n;
  }
  fclose(f);
  if (buf == NULL)
    buf = calloc(1, 1);
  else
    buf[len] = '\0';
  return buf;
}

/* One token per line; blank lines and '#' comments skipped. */
static int
load_tokens(const char *path)
{
  char *text = read_file(path);
  if (text == NULL)
    return -1;
  for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save)) {
    while (*line == ' ' || *line == '\t')
      line++;
    size_t n = strlen(line);
    while (
        n > 0
        && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
      line[--n] = '\0';
    if (n == 0 || line[0] == '#')
      continue;
    char **t = realloc(svc.tokens, (size_t)(svc.ntokens + 1) * sizeof *t);
    size_t *l = realloc(svc.token_lens, (size_t)(svc.ntokens + 1) * sizeof *l);
    if (t != NULL)
      svc.tokens = t;
    if (l != NULL)
      svc.token_lens = l;
    if (t == NULL || l == NULL || (t[svc.ntokens] = strdup(line)) == NULL) {
      free(text);
      return -1;
    }
    l[svc.ntokens++] = n;
  }
  free(text);
  return svc.ntokens > 0 ? 0 : -1;
}

static void
free_tokens(void)
{
  for (int i = 0; i < svc.ntokens; i++)
    free(svc.tokens[i]);
  free(svc.tokens);
  free(svc.token_lens);
  svc.tokens = NULL;
  svc.token_lens = NULL;
  svc.ntokens = 0;
}

/* --healthcheck: GET /healthz on the configured address; 0 if 200. */
static int
healthcheck(const svc_config *cfg)
{
  struct sockaddr_storage ss;
  socklen_t sslen;
  if (resolve_listen(cfg->listen, &ss, &sslen, true) != 0)
    return 1;
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return 1;
  struct timeval tv = { 3, 0 };
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  static const char req[] = "GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n";
  char resp[64] = { 0 };
  int ok = connect(fd, (struct sockaddr *)&ss, sslen) == 0
           && write(fd, req, sizeof req - 1) == (ssize_t)(sizeof req - 1)
           && read(fd, resp, sizeof resp - 1) >= 12
           && strncmp(resp, "HTTP/1.", 7) == 0
           && strncmp(resp + 8, " 200", 4) == 0;
  close(fd);
  return ok ? 0 : 1;
}

static struct MHD_Daemon *
start_mhd(char *cert, char *key)
{
  struct sockaddr_storage ss;
  socklen_t sslen;
  if (resolve_listen(svc.cfg.listen, &ss, &sslen, false) != 0) {
    svc_log("error", "bad --listen address", NULL);
    return NULL;
  }
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC
                   | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
  if (ss.ss_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  struct MHD_OptionItem ops[12];
  int n = 0;
  /* The logger first, or MHD logs the options' messages itself. */
  ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER,
                                      (intptr_t)svc_log_mhd, NULL };
  ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, &ss };
  ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED,
                                      (intptr_t)svc_completed, NULL };
  ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT,
                                      (intptr_t)svc.cfg.timeout_s, NULL };
  /* Well above the job capacity: shedding is by HTTP 503, not TCP. */
  ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, 1000, NULL };
  ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                      128 * 1024, NULL };
  ops[n++]
      = (struct MHD_OptionItem){ MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, NULL };
  if (cert != NULL) {
    flags |= MHD_USE_TLS;
    ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, cert };
    ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, key };
  }
  ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
  return MHD_start_daemon(flags, 0, NULL, NULL, svc_dispatch, NULL,
                          MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
}

/* SIGTERM/SIGINT: readiness 503, stop accepting, let every admitted
 * request finish (its reply sent) within the grace period, stop. */
/* Score requests uploading, queued or running. */
static int
in_flight(void)
{
  return atomic_load(&svc.admitted) + atomic_load(&svc.uploading);
}

static int
drain(const sigset_t *sigs)
{
  atomic_store(&svc.draining, true);
  MHD_socket lfd = MHD_quiesce_daemon(svc.mhd);
  /* A quiesced socket still completes handshakes into its backlog, where
   * clients would hang until exit; shut it down so new connections are
   * refused at once.  The fd itself stays open until MHD_stop_daemon. */
  if (lfd != MHD_INVALID_SOCKET)
    (void)shutdown(lfd, SHUT_RDWR);
  svc_log("info", "draining", "{\"admitted\":%d,\"grace_s\":%u}", in_flight(),
          svc.cfg.grace_s);
  double end = svc_now_ms() + 1000.0 * svc.cfg.grace_s;
  struct timespec step = { 0, 20 * 1000000L };
  while (in_flight() > 0 && svc_now_ms() < end) {
    int s = sigtimedwait(sigs, NULL, &step);
    if (s == SIGINT || s == SIGTERM) {
      svc_log("warn", "second signal: exiting without draining", NULL);
      return 1;
    }
  }
  if (in_flight() > 0) {
    svc_log("error", "grace period over with requests in flight",
            "{\"admitted\":%d}", in_flight());
    return 1;
  }
  MHD_stop_daemon(svc.mhd);
  svc.mhd = NULL;
  if (lfd != MHD_INVALID_SOCKET)
    close(lfd);
  svc_pool_stop();
  return 0;
}

int
main(int argc, char **argv)
{
  json_object_seed(0); /* before the first JSON object (the logs) */
  int mode = config_load(&svc.cfg, argc, argv);
  if (mode < 0)
    return 2;
  if (mode == 1) {
    usage(stdout);
    return 0;
  }
  if (mode == 2)
    return healthcheck(&svc.cfg);

  svc.cfg.cores = cpu_budget();
  if (svc.cfg.max_memory_bytes == 0)
    svc.cfg.max_memory_bytes = memory_budget();
  thread_budget(&svc.cfg);
  if (svc.cfg.token_file[0] && load_tokens(svc.cfg.token_file) != 0) {
    svc_log("error", "cannot read tokens from --token-file (or it is empty)",
            NULL);
    return 2;
  }
  char *cert = NULL, *key = NULL;
  if (svc.cfg.tls_cert[0] || svc.cfg.tls_key[0]) {
    cert = read_file(svc.cfg.tls_cert);
    key = read_file(svc.cfg.tls_key);
    if (cert == NULL || key == NULL) {
      svc_log("error", "--tls-cert and --tls-key must both be readable", NULL);
      free(cert);
      free(key);
      return 2;
    }
  }

  /* Before any thread: OpenMP nesting, signals. */
#ifdef _OPENMP
  omp_set_max_active_levels(1);
#endif
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);

  if (svc_pool_start(svc.cfg.workers) != 0) {
    svc_log("error", "cannot start worker threads", NULL);
    free(cert);
    free(key);
    return 1;
  }
  svc.mhd = start_mhd(cert, key);
  if (svc.mhd == NULL) {
    svc_log("error", "cannot listen", "{\"listen\":\"%s\"}", svc.cfg.listen);
    svc_pool_stop();
    free(cert);
    free(key);
    return 1;
  }
  const union MHD_DaemonInfo *bound
      = MHD_get_daemon_info(svc.mhd, MHD_DAEMON_INFO_BIND_PORT);
  svc_log("info", "listening",
          "{\"listen\":\"%s\",\"port\":%u,\"cores\":%d,\"workers\":%d,"
          "\"threads_per_job\":%d,\"queue\":%d,\"max_memory_mb\":%llu,"
          "\"tls\":%s,\"auth\":%s,\"version\":\"%s\"}",
          svc.cfg.listen, bound ? (unsigned)bound->port : 0u, svc.cfg.cores,
          svc.cfg.workers, svc.cfg.threads_per_job, svc.cfg.queue,
          (unsigned long long)(svc.cfg.max_memory_bytes / MB),
          cert ? "true" : "false", svc.ntokens ? "true" : "false", SS_VERSION);

  sigdelset(&sigs, SIGPIPE);
  int sig = 0;
  while (sigwait(&sigs, &sig) != 0 || (sig != SIGTERM && sig != SIGINT))
    ;
  svc_log("info", "signal", "{\"signal\":\"%s\"}",
          sig == SIGTERM ? "SIGTERM" : "SIGINT");
  int rc = drain(&sigs);
  if (rc == 0)
    svc_log("info", "stopped", NULL);
  free(cert);
  free(key);
  free_tokens();
  if (rc != 0)
    _exit(rc); /* jobs still hold their connections: do not free them */
  return 0;
}
