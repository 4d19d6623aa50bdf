/* Worker processes, their sockets and shared-memory messages (see proc.h). */
#include "proc.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "copy.h"
#include "error.h"
#include "file_map.h"
#include "iter.h"
#include "tensor_io.h"

#define MSG_MAGIC 0x4b574d45u /* "EMWK" */
/* Meta up to this size travels in the socket; larger meta goes into the memfd, so
 * a message in the socket stays small and a few outstanding ones never fill it
 * (the parent may be blocked writing work to a worker that is writing results). */
#define MSG_INLINE_MAX 4096
#define MSG_MAX_TENSORS (1 << 20)
#define SHM_ALIGN 64

typedef struct msg_header {
    uint32_t magic;
    uint32_t kind;
    int64_t seq;
    uint64_t meta_len;
    uint32_t ntensors;
    uint32_t where;      /* WHERE_* */
    uint64_t shm_size;   /* bytes of the layout below */
    int32_t slot;        /* WHERE_SLOT: which slot (its fd is attached when new) */
    uint32_t freed_mask; /* parent -> worker: slots copied out since the last message */
} msg_header;

enum { WHERE_INLINE = 0, WHERE_MEMFD = 1, WHERE_SLOT = 2 };

/* In shared memory: meta, then per tensor {int32 dtype, int32 ndim, int64 offset,
 * int64 sizes[ndim]}, then the data, each tensor at a multiple of SHM_ALIGN. */

static em_proc_chan *tracked; /* the parent's live channels */

static void track(em_proc_chan *ch)
{
    ch->prev = NULL;
    ch->next = tracked;
    if (tracked)
        tracked->prev = ch;
    tracked = ch;
    ch->tracked = true;
}

void em_proc_untrack(em_proc_chan *ch)
{
    if (!ch->tracked)
        return;
    if (ch->prev)
        ch->prev->next = ch->next;
    else
        tracked = ch->next;
    if (ch->next)
        ch->next->prev = ch->prev;
    ch->prev = ch->next = NULL;
    ch->tracked = false;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* At exit, workers whose pool was never shut down (os.exit without closing the
 * state) are ended too: all sockets closed first so they exit together. */
static void reap_all_at_exit(void)
{
    for (em_proc_chan *c = tracked; c; c = c->next)
        em_proc_close(c);
    double deadline = now_ms() + 200;
    while (tracked) {
        em_proc_chan *c = tracked;
        double left = deadline - now_ms();
        em_proc_reap(c, left > 0 ? (int)left : 0);
        em_proc_untrack(c);
    }
}

pid_t em_proc_fork(em_proc_chan *ch)
{
    static bool atexit_done;
    if (!atexit_done) {
        atexit(reap_all_at_exit);
        atexit_done = true;
    }
    memset(ch, 0, sizeof *ch);
    ch->fd = -1;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        em_error("worker: cannot create a socket (%s)", strerror(errno));
        return -1;
    }
    fflush(NULL); /* or the child would print the parent's buffered output again */
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(sv[0]);
        close(sv[1]);
        em_error("worker: fork failed (%s)", strerror(err));
        return -1;
    }
    if (pid > 0) {
        close(sv[1]);
        ch->fd = sv[0];
        ch->pid = pid;
        ch->owner = parent;
        track(ch);
        return pid;
    }
    /* the worker */
    close(sv[0]);
    while (tracked) {
        em_proc_chan *c = tracked;
        em_proc_close(c);
        c->pid = 0;
        c->reaped = true;
        em_proc_untrack(c);
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) /* the parent died before prctl */
        _exit(1);
    signal(SIGINT, SIG_IGN);
    em_set_num_threads(1);
    ch->fd = sv[1];
    ch->owner = 0;
    return 0;
}

void em_proc_exit(int code)
{
    fflush(NULL);
    _exit(code);
}

/* ---- sending ---- */

static int send_all(int fd, const void *buf, size_t n, int pass_fd)
{
    const char *p = buf;
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    while (n > 0) {
        struct iovec iov = { (void *)p, n };
        struct msghdr mh = { 0 };
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        if (pass_fd >= 0) {
            memset(&ctl, 0, sizeof ctl);
            mh.msg_control = ctl.buf;
            mh.msg_controllen = sizeof ctl.buf;
            struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
        }
        ssize_t k = sendmsg(fd, &mh, MSG_NOSIGNAL);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return em_error("worker: cannot send a message (%s)", strerror(errno));
        }
        pass_fd = -1; /* the fd went with the first bytes */
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static size_t align_up(size_t n) { return (n + SHM_ALIGN - 1) / SHM_ALIGN * SHM_ALIGN; }

/* A storage over memory someone else frees. */
static void release_nothing(void *ctx, void *data)
{
    (void)ctx;
    (void)data;
}

/* Copies t (any strides) into the contiguous bytes at dst. */
static int copy_into(void *dst, em_tensor *t)
{
    if (em_tensor_is_contiguous(t)) {
        memcpy(dst, em_tensor_data(t), em_tensor_nbytes(t));
        return 0;
    }
    em_storage *s = em_storage_new(EM_CPU, 0);
    if (!s)
        return -1;
    s->data = dst;
    s->nbytes = em_tensor_nbytes(t);
    s->release = release_nothing;
    int64_t strides[EM_MAX_DIMS];
    em_contiguous_strides(t->ndim, t->sizes, strides);
    em_tensor *view = em_tensor_new_view(s, t->dtype, 0, t->ndim, t->sizes, strides);
    em_storage_release(s);
    if (!view)
        return -1;
    int rc = em_copy_(view, t);
    em_tensor_release(view);
    return rc;
}

/* Where each tensor's data goes in the layout; the layout's size. */
static int layout(size_t meta_len, em_tensor *const *ts, int n, size_t *offs, size_t *total)
{
    size_t specs = 0;
    for (int i = 0; i < n; i++) {
        if (em_tensor_device(ts[i]).type != EM_DEV_CPU)
            return em_error("worker: cannot send a CUDA tensor (tensor %d); move batches to the device in the main process",
                            i + 1);
        specs += 16 + 8 * (size_t)ts[i]->ndim;
    }
    size_t end = align_up(meta_len + specs);
    for (int i = 0; i < n; i++) {
        offs[i] = end;
        end = align_up(end + em_tensor_nbytes(ts[i]));
    }
    *total = end ? end : SHM_ALIGN;
    return 0;
}

/* Writes meta, specs and tensor data at p (the layout's bytes). */
static int fill(char *p, const void *meta, size_t meta_len, em_tensor *const *ts, int n, const size_t *offs)
{
    if (meta_len)
        memcpy(p, meta, meta_len);
    char *q = p + meta_len;
    for (int i = 0; i < n; i++) {
        int32_t head[2] = { (int32_t)ts[i]->dtype, (int32_t)ts[i]->ndim };
        int64_t off = (int64_t)offs[i];
        memcpy(q, head, sizeof head);
        memcpy(q + 8, &off, 8);
        memcpy(q + 16, ts[i]->sizes, 8 * (size_t)ts[i]->ndim);
        q += 16 + 8 * (size_t)ts[i]->ndim;
        if (em_tensor_nbytes(ts[i]) && copy_into(p + offs[i], ts[i]) != 0)
            return -1;
    }
    return 0;
}

/* A new memfd of size bytes, mapped (prefaulted) at *map; its fd or -1. */
static int shm_new(size_t size, void **map)
{
    int fd = memfd_create("ember-worker-batch", MFD_CLOEXEC);
    if (fd < 0)
        return em_error("worker: memfd_create failed (%s)", strerror(errno));
    void *p = MAP_FAILED;
    if (ftruncate(fd, (off_t)size) != 0 ||
        (p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0)) == MAP_FAILED) {
        int err = errno;
        close(fd);
        return em_error("worker: cannot allocate %zu bytes of shared memory (%s)", size, strerror(err));
    }
    *map = p;
    return fd;
}

static void slot_free(em_proc_slot *sl)
{
    if (sl->map)
        munmap(sl->map, sl->size);
    if (sl->map && sl->fd >= 0)
        close(sl->fd);
    sl->map = NULL;
    sl->size = 0;
    sl->fd = -1;
    sl->busy = false;
}

/* Worker side: a free slot of at least size bytes (grown or created as needed),
 * or -1 when all are busy (or shared memory ran out). *fresh: its fd is new to the
 * parent. */
static int slot_pick(em_proc_chan *ch, size_t size, bool *fresh)
{
    int best = -1, spare = -1, empty = -1;
    for (int i = 0; i < EM_PROC_SLOTS; i++) {
        em_proc_slot *sl = &ch->slots[i];
        if (!sl->map) {
            if (empty < 0)
                empty = i;
        } else if (!sl->busy) {
            if (sl->size >= size && (best < 0 || sl->size < ch->slots[best].size))
                best = i;
            else if (spare < 0)
                spare = i;
        }
    }
    *fresh = false;
    if (best >= 0)
        return best;
    int i = spare >= 0 ? spare : empty; /* grow a free slot rather than add one */
    if (i < 0)
        return -1;
    slot_free(&ch->slots[i]);
    size_t want = size < ((size_t)1 << 16) ? (size_t)1 << 16 : size + size / 4;
    void *map;
    int fd = shm_new(want, &map);
    if (fd < 0)
        return -1;
    ch->slots[i] = (em_proc_slot){ map, want, fd, false };
    *fresh = true;
    return i;
}

int em_proc_send(em_proc_chan *ch, uint32_t kind, int64_t seq, const void *meta, size_t meta_len,
                 em_tensor *const *tensors, int ntensors)
{
    if (ch->fd < 0)
        return em_error("worker: the channel is closed");
    if (ntensors < 0 || ntensors > MSG_MAX_TENSORS)
        return em_error("worker: cannot send %d tensors in one message (at most %d)", ntensors, MSG_MAX_TENSORS);
    msg_header h = { MSG_MAGIC, kind, seq, meta_len, (uint32_t)ntensors, WHERE_INLINE, 0, -1, ch->freed };
    int rc;
    if (ntensors == 0 && meta_len <= MSG_INLINE_MAX) {
        /* header and meta in one write: the reader never sees half a message unless
         * the writer dies */
        char buf[sizeof h + MSG_INLINE_MAX];
        memcpy(buf, &h, sizeof h);
        if (meta_len)
            memcpy(buf + sizeof h, meta, meta_len);
        rc = send_all(ch->fd, buf, sizeof h + meta_len, -1);
    } else {
        size_t *offs = malloc((size_t)(ntensors ? ntensors : 1) * sizeof *offs);
        if (!offs)
            return em_error("worker: out of memory");
        size_t total = 0;
        if (layout(meta_len, tensors, ntensors, offs, &total) != 0) {
            free(offs);
            return -1;
        }
        h.shm_size = total;
        bool fresh = false;
        int slot = ch->pid == 0 ? slot_pick(ch, total, &fresh) : -1; /* slots: results only */
        int pass = -1;
        void *map = NULL;
        if (slot >= 0) {
            h.where = WHERE_SLOT;
            h.slot = slot;
            map = ch->slots[slot].map;
            pass = fresh ? ch->slots[slot].fd : -1;
        } else {
            h.where = WHERE_MEMFD;
            if ((pass = shm_new(total, &map)) < 0) {
                free(offs);
                return -1;
            }
        }
        rc = fill(map, meta, meta_len, tensors, ntensors, offs);
        free(offs);
        if (rc == 0)
            rc = send_all(ch->fd, &h, sizeof h, pass);
        if (slot >= 0) {
            ch->slots[slot].busy = rc == 0;
        } else {
            munmap(map, total);
            close(pass); /* the receiver holds its own copy of the fd now */
        }
    }
    if (rc == 0)
        ch->freed = 0;
    return rc;
}

/* ---- receiving ---- */

/* Reads exactly n bytes; the first read may carry an fd (*got_fd). 1, 0 at the end
 * of the stream (or in the middle of it: the writer died), -1 on error. */
static int recv_all(int fd, void *buf, size_t n, int *got_fd)
{
    char *p = buf;
    while (n > 0) {
        struct iovec iov = { p, n };
        struct msghdr mh = { 0 };
        union {
            struct cmsghdr h;
            char buf[CMSG_SPACE(4 * sizeof(int))];
        } ctl;
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        if (got_fd) {
            mh.msg_control = ctl.buf;
            mh.msg_controllen = sizeof ctl.buf;
        }
        ssize_t k = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ECONNRESET)
                return 0;
            return em_error("worker: cannot read a message (%s)", strerror(errno));
        }
        if (got_fd) {
            for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                    continue;
                size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t j = 0; j < nfd; j++) {
                    int f;
                    memcpy(&f, CMSG_DATA(c) + j * sizeof(int), sizeof f);
                    if (*got_fd < 0)
                        *got_fd = f;
                    else
                        close(f);
                }
            }
        }
        if (k == 0)
            return 0;
        p += k;
        n -= (size_t)k;
    }
    return 1;
}

void em_proc_msg_free(em_proc_msg *msg)
{
    free(msg->meta);
    for (int i = 0; i < msg->ntensors; i++)
        em_tensor_release(msg->tensors[i]);
    free(msg->tensors);
    memset(msg, 0, sizeof *msg);
}

/* Reads meta and tensors from a message's layout at base (size bytes), checking
 * every length: tensors are views of the map m, or copies when m is NULL. */
static int shm_unpack(const char *base, uint64_t size, em_file_map *m, const msg_header *h, em_proc_msg *msg)
{
    if (h->meta_len > size)
        return em_error("worker: malformed message (meta of %llu bytes in %llu)", (unsigned long long)h->meta_len,
                        (unsigned long long)size);
    if (h->meta_len) {
        if (!(msg->meta = malloc(h->meta_len)))
            return em_error("worker: out of memory");
        memcpy(msg->meta, base, h->meta_len);
    }
    msg->meta_len = h->meta_len;
    if (h->ntensors && !(msg->tensors = calloc(h->ntensors, sizeof *msg->tensors)))
        return em_error("worker: out of memory");
    uint64_t pos = h->meta_len;
    for (uint32_t i = 0; i < h->ntensors; i++) {
        int32_t head[2];
        int64_t off, sizes[EM_MAX_DIMS];
        if (size - pos < 16)
            return em_error("worker: malformed message (tensor %u)", i + 1);
        memcpy(head, base + pos, sizeof head);
        memcpy(&off, base + pos + 8, 8);
        if (head[0] < 0 || head[0] >= EM_DTYPE_COUNT || head[1] < 0 || head[1] > EM_MAX_DIMS ||
            size - pos - 16 < 8 * (uint64_t)head[1])
            return em_error("worker: malformed message (tensor %u)", i + 1);
        memcpy(sizes, base + pos + 16, 8 * (size_t)head[1]);
        pos += 16 + 8 * (uint64_t)head[1];
        em_tensor *t;
        if (m) {
            t = em_file_map_tensor(m, off, (em_dtype)head[0], head[1], sizes);
        } else {
            int64_t n = em_io_nbytes((em_dtype)head[0], head[1], sizes);
            if (n < 0)
                return -1;
            if (off < 0 || (uint64_t)off > size || (uint64_t)n > size - (uint64_t)off)
                return em_error("worker: malformed message (tensor %u out of bounds)", i + 1);
            t = em_io_from_bytes(base + off, (size_t)n, (em_dtype)head[0], head[1], sizes);
        }
        if (!t)
            return -1;
        msg->tensors[msg->ntensors++] = t;
    }
    return 0;
}

/* Parent side: slot s now maps the worker's new fd. */
static int slot_adopt(em_proc_chan *ch, int s, int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= 0)
        return em_error("worker: malformed message (a slot of no size)");
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return em_error("worker: cannot map a worker's shared memory (%s)", strerror(errno));
    slot_free(&ch->slots[s]);
    ch->slots[s] = (em_proc_slot){ p, (size_t)st.st_size, -1, false };
    return 0;
}

int em_proc_recv(em_proc_chan *ch, em_proc_msg *msg)
{
    memset(msg, 0, sizeof *msg);
    if (ch->fd < 0)
        return em_error("worker: the channel is closed");
    msg_header h;
    int fd = -1;
    int rc = recv_all(ch->fd, &h, sizeof h, &fd);
    if (rc <= 0) {
        if (fd >= 0)
            close(fd);
        return rc;
    }
    if (h.magic != MSG_MAGIC || h.ntensors > MSG_MAX_TENSORS) {
        if (fd >= 0)
            close(fd);
        return em_error("worker: malformed message (bad header)");
    }
    msg->kind = h.kind;
    msg->seq = h.seq;
    if (ch->pid == 0) /* the worker: the parent is done with these slots */
        for (int i = 0; i < EM_PROC_SLOTS; i++)
            if (h.freed_mask & (1u << i))
                ch->slots[i].busy = false;
    if (h.where == WHERE_INLINE) {
        if (fd >= 0)
            close(fd);
        if (h.meta_len > MSG_INLINE_MAX || h.ntensors)
            return em_error("worker: malformed message (inline meta of %llu bytes)", (unsigned long long)h.meta_len);
        msg->meta_len = h.meta_len;
        if (h.meta_len == 0)
            return 1;
        if (!(msg->meta = malloc(h.meta_len)))
            return em_error("worker: out of memory");
        rc = recv_all(ch->fd, msg->meta, h.meta_len, NULL);
        if (rc <= 0)
            em_proc_msg_free(msg);
        return rc;
    }
    if (h.where == WHERE_SLOT) {
        int sl = h.slot;
        rc = 0;
        if (ch->pid == 0 || sl < 0 || sl >= EM_PROC_SLOTS)
            rc = em_error("worker: malformed message (slot %d)", sl);
        else if (fd >= 0)
            rc = slot_adopt(ch, sl, fd);
        if (fd >= 0)
            close(fd);
        if (rc == 0 && (!ch->slots[sl].map || h.shm_size > ch->slots[sl].size))
            rc = em_error("worker: malformed message (slot %d holds no %llu bytes)", sl, (unsigned long long)h.shm_size);
        if (rc == 0)
            rc = shm_unpack(ch->slots[sl].map, h.shm_size, NULL, &h, msg);
        if (rc != 0) {
            em_proc_msg_free(msg);
            return -1;
        }
        ch->freed |= 1u << sl; /* copied out: the worker may reuse it */
        return 1;
    }
    if (fd < 0)
        return em_error("worker: malformed message (shared memory announced, no fd)");
    struct stat st;
    if (h.where != WHERE_MEMFD || fstat(fd, &st) != 0 || (uint64_t)st.st_size != h.shm_size || h.shm_size == 0) {
        close(fd);
        return em_error("worker: malformed message (shared memory of the wrong size)");
    }
    em_file_map *m = em_file_map_open_fd(fd, (int64_t)h.shm_size, 1);
    close(fd);
    if (!m) {
        char why[256]; /* em_error rewrites the buffer em_last_error points to */
        snprintf(why, sizeof why, "%s", em_last_error());
        return em_error("worker: cannot map a batch's shared memory (%s)", why);
    }
    rc = shm_unpack(em_file_map_data(m), h.shm_size, m, &h, msg);
    em_file_map_release(m); /* the tensors hold their own references */
    if (rc != 0) {
        em_proc_msg_free(msg);
        return -1;
    }
    return 1;
}

/* ---- waiting and ending ---- */

int em_proc_poll(em_proc_chan *const *chans, int n, int timeout_ms, bool *ready)
{
    struct pollfd stack[16];
    struct pollfd *pf = n <= 16 ? stack : malloc((size_t)n * sizeof *pf);
    if (!pf)
        return em_error("worker: out of memory");
    for (int i = 0; i < n; i++) {
        pf[i].fd = chans[i]->fd; /* poll skips negative fds */
        pf[i].events = POLLIN;
        pf[i].revents = 0;
        ready[i] = false;
    }
    double deadline = now_ms() + timeout_ms;
    int rc;
    for (;;) {
        int wait = timeout_ms;
        if (timeout_ms >= 0) {
            double left = deadline - now_ms();
            wait = left > 0 ? (int)(left + 0.999) : 0;
        }
        rc = poll(pf, (nfds_t)n, wait);
        if (rc >= 0 || errno != EINTR)
            break;
    }
    int err = errno;
    int count = 0;
    if (rc > 0)
        for (int i = 0; i < n; i++)
            if (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                ready[i] = true;
                count++;
            }
    if (pf != stack)
        free(pf);
    if (rc < 0)
        return em_error("worker: poll failed (%s)", strerror(err));
    return count;
}

void em_proc_close(em_proc_chan *ch)
{
    if (ch->fd >= 0)
        close(ch->fd);
    ch->fd = -1;
    for (int i = 0; i < EM_PROC_SLOTS; i++)
        slot_free(&ch->slots[i]);
}

/* Waits up to ms for the worker to exit; true when it was reaped. */
static bool wait_exit(em_proc_chan *ch, int ms)
{
    int st;
    pid_t r;
    while ((r = waitpid(ch->pid, &st, WNOHANG)) < 0 && errno == EINTR) {
    }
    if (r == ch->pid || r < 0) {
        ch->status = r == ch->pid ? st : 0;
        return true;
    }
    if (ms <= 0)
        return false;
    /* a pidfd turns readable when the process exits: no polling loop */
    int pfd = (int)syscall(SYS_pidfd_open, ch->pid, 0);
    if (pfd >= 0) {
        struct pollfd p = { pfd, POLLIN, 0 };
        double deadline = now_ms() + ms;
        for (;;) {
            double left = deadline - now_ms();
            if (left <= 0 || poll(&p, 1, (int)(left + 0.999)) >= 0)
                break;
        }
        close(pfd);
    } else {
        for (double deadline = now_ms() + ms; now_ms() < deadline;) {
            if (waitpid(ch->pid, &st, WNOHANG) == ch->pid) {
                ch->status = st;
                return true;
            }
            nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
        }
    }
    while ((r = waitpid(ch->pid, &st, WNOHANG)) < 0 && errno == EINTR) {
    }
    if (r == ch->pid || r < 0) {
        ch->status = r == ch->pid ? st : 0;
        return true;
    }
    return false;
}

void em_proc_reap(em_proc_chan *ch, int grace_ms)
{
    em_proc_close(ch);
    if (ch->reaped || ch->pid <= 0 || ch->owner != getpid())
        return;
    if (!wait_exit(ch, grace_ms)) {
        kill(ch->pid, SIGKILL);
        int st = 0;
        pid_t r;
        while ((r = waitpid(ch->pid, &st, 0)) < 0 && errno == EINTR) {
        }
        ch->status = r == ch->pid ? st : 0;
    }
    ch->reaped = true;
    em_proc_untrack(ch);
}

int em_proc_kill(em_proc_chan *ch, int sig)
{
    if (ch->reaped || ch->pid <= 0 || ch->owner != getpid())
        return em_error("worker: not a live worker of this process");
    if (kill(ch->pid, sig) != 0)
        return em_error("worker: kill failed (%s)", strerror(errno));
    return 0;
}

const char *em_proc_status_str(int status, char *buf, size_t n)
{
    if (WIFEXITED(status))
        snprintf(buf, n, "exit code %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, n, "signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(buf, n, "status %d", status);
    return buf;
}
