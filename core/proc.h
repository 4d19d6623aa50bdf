/* Worker processes for the DataLoader (lua/data/workers.lua): fork a worker joined
 * to its parent by a Unix socket, send messages both ways, and end workers without
 * leaving zombies. A message is a small header plus bytes the caller encodes (meta)
 * plus tensors; tensors never travel through the socket. A worker writes a result
 * into one of its shared-memory slots (memfds mapped in both processes, their fds
 * passed once with SCM_RIGHTS) and the parent copies the tensors out at once and
 * hands the slot back with its next message. Slots are reused because first
 * touches of fresh pages are expensive (about 10 us per page on the target
 * machines; a fresh memfd per batch cost more than the copy). Messages the parent
 * sends, and a worker's results when all its slots are taken, use a one-off memfd
 * whose pages the received tensors view directly.
 * Linux only (memfd_create, pidfd_open, PR_SET_PDEATHSIG). */
#ifndef EM_PROC_H
#define EM_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tensor.h"

/* One end of a worker's socket. The parent's ends are kept in a process-wide list
 * so a fork can close them in the child (a worker holding a sibling's socket would
 * hide that sibling's death) and exit() can reap workers nobody shut down. */
#define EM_PROC_SLOTS 32

typedef struct em_proc_slot {
    void *map;   /* mapped in both processes, NULL when unused */
    size_t size;
    int fd;      /* the worker's fd (-1 in the parent, which keeps only the map) */
    bool busy;   /* worker side: holds a result the parent has not copied out yet */
} em_proc_slot;

typedef struct em_proc_chan {
    int fd;     /* this end of the socket, -1 once closed */
    pid_t pid;  /* the worker, in its parent; 0 in the worker itself */
    pid_t owner; /* the process that forked the worker: only it kills and reaps */
    int status;  /* waitpid status once reaped */
    bool reaped;
    bool tracked;
    struct em_proc_chan *prev, *next;
    em_proc_slot slots[EM_PROC_SLOTS];
    uint32_t freed; /* parent side: slots copied out, handed back with the next send */
} em_proc_chan;

/* Forks a worker. In the parent returns its pid and ch holds the parent's end
 * (tracked). In the worker returns 0, ch holds the worker's end, every channel the
 * parent tracked is closed and forgotten, SIGINT is ignored (the parent handles
 * Ctrl-C and ends its workers), the worker is killed if its parent dies, and
 * OpenMP runs one thread. -1 with an error when the socket or fork fails. */
pid_t em_proc_fork(em_proc_chan *ch);

typedef struct em_proc_msg {
    uint32_t kind;
    int64_t seq;
    char *meta; /* malloc'd, meta_len bytes (NULL when 0) */
    size_t meta_len;
    int ntensors;
    em_tensor **tensors; /* new references over the shared memory */
} em_proc_msg;

/* Sends one message; tensors (CPU, any layout) go through a memfd. 0 or -1. */
int em_proc_send(em_proc_chan *ch, uint32_t kind, int64_t seq, const void *meta, size_t meta_len,
                 em_tensor *const *tensors, int ntensors);
/* Reads one whole message: 1, or 0 when the other end is gone (closed, or died in
 * the middle of a message), or -1 with an error (a malformed message). */
int em_proc_recv(em_proc_chan *ch, em_proc_msg *msg);
void em_proc_msg_free(em_proc_msg *msg);

/* Waits until one of the channels can be read (a message or its end) and sets
 * ready[i]; returns how many, 0 after timeout_ms (< 0: no limit), -1 on error.
 * Closed channels are skipped. */
int em_proc_poll(em_proc_chan *const *chans, int n, int timeout_ms, bool *ready);

/* Closes the socket (a worker reading it sees the end and exits) and unmaps the
 * slots. */
void em_proc_close(em_proc_chan *ch);
/* Closes the socket, gives the worker grace_ms to exit, then SIGKILLs it, and
 * reaps it (ch->status). Does nothing in a process that is not the owner or for a
 * worker already reaped. */
void em_proc_reap(em_proc_chan *ch, int grace_ms);
/* Sends a signal to a live worker (owner only). 0 or -1. */
int em_proc_kill(em_proc_chan *ch, int sig);
/* Drops ch from the list without touching the worker (a channel being freed). */
void em_proc_untrack(em_proc_chan *ch);
/* How a reaped worker ended: "exit code 3", "signal 9 (Killed)". */
const char *em_proc_status_str(int status, char *buf, size_t n);
/* Flushes stdio and leaves the worker at once (no atexit handlers, no Lua close:
 * those belong to the parent). */
void em_proc_exit(int code) __attribute__((noreturn));

#endif
