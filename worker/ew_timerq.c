/*
 * ew_timerq - see ew_timerq.h.
 *
 * The heap array holds (due, seq, timer) by value so comparisons touch
 * only the array, not the callers' structs; each move writes the new index
 * back into the timer, which is what makes cancel O(log n).
 */
#include "ew_timerq.h"

#include <stdlib.h>

#define INITIAL_CAP ((size_t)64)

typedef struct hent {
        int64_t     due;
        uint64_t    seq; /* insertion order: ties fire FIFO */
        ew_timer_t *t;
} hent_t;

struct ew_timerq {
        hent_t  *heap;
        size_t   n;
        size_t   cap;
        size_t   max;
        uint64_t next_seq;
};

ew_timerq_t *ew_timerq_new(size_t max)
{
        ew_timerq_t *tq = calloc(1, sizeof(*tq));

        if (!tq)
                return NULL;
        if (max == 0 || max > EW_TIMERQ_MAX)
                max = EW_TIMERQ_MAX;
        tq->max = max;
        return tq;
}

void ew_timerq_destroy(ew_timerq_t *tq)
{
        if (!tq)
                return;
        free(tq->heap);
        free(tq);
}

void ew_timer_init(ew_timer_t *t)
{
        t->item = NULL;
        t->idx  = EW_TIMER_IDLE;
}

int ew_timer_scheduled(const ew_timer_t *t)
{
        return t->idx != EW_TIMER_IDLE;
}

static int before(const hent_t *a, const hent_t *b)
{
        return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void set(ew_timerq_t *tq, size_t i, hent_t e)
{
        tq->heap[i] = e;
        e.t->idx    = i;
}

/* Moves the entry at i up to its place. */
static void sift_up(ew_timerq_t *tq, size_t i)
{
        hent_t e = tq->heap[i];
        size_t parent;

        while (i > 0) {
                parent = (i - 1) / 2;
                if (!before(&e, &tq->heap[parent]))
                        break;
                set(tq, i, tq->heap[parent]);
                i = parent;
        }
        set(tq, i, e);
}

/* Moves the entry at i down to its place. */
static void sift_down(ew_timerq_t *tq, size_t i)
{
        hent_t e = tq->heap[i];
        size_t child;

        for (;;) {
                child = 2 * i + 1;
                if (child >= tq->n)
                        break;
                if (child + 1 < tq->n &&
                    before(&tq->heap[child + 1], &tq->heap[child]))
                        child++;
                if (!before(&tq->heap[child], &e))
                        break;
                set(tq, i, tq->heap[child]);
                i = child;
        }
        set(tq, i, e);
}

int ew_timerq_add(ew_timerq_t *tq, ew_timer_t *t, int64_t due_ms, void *item)
{
        size_t  newcap;
        hent_t *heap;

        if (!item || due_ms < 0 || t->idx != EW_TIMER_IDLE || tq->n >= tq->max)
                return -1;
        if (tq->n == tq->cap) {
                newcap = tq->cap ? tq->cap * 2 : INITIAL_CAP;
                if (newcap > tq->max)
                        newcap = tq->max;
                heap = realloc(tq->heap, newcap * sizeof(*heap));
                if (!heap)
                        return -1;
                tq->heap = heap;
                tq->cap  = newcap;
        }
        t->item             = item;
        tq->heap[tq->n].due = due_ms;
        tq->heap[tq->n].seq = tq->next_seq++;
        tq->heap[tq->n].t   = t;
        tq->n++;
        sift_up(tq, tq->n - 1);
        return 0;
}

/* Removes the entry at i, refilling the hole with the last entry. */
static void remove_at(ew_timerq_t *tq, size_t i)
{
        ew_timer_t *t = tq->heap[i].t;

        t->idx = EW_TIMER_IDLE;
        tq->n--;
        if (i == tq->n)
                return;
        tq->heap[i] = tq->heap[tq->n];
        /* The moved entry may belong above or below the hole. */
        if (i > 0 && before(&tq->heap[i], &tq->heap[(i - 1) / 2]))
                sift_up(tq, i);
        else
                sift_down(tq, i);
}

int ew_timerq_cancel(ew_timerq_t *tq, ew_timer_t *t)
{
        size_t i = t->idx;

        if (i == EW_TIMER_IDLE || i >= tq->n || tq->heap[i].t != t)
                return -1;
        remove_at(tq, i);
        return 0;
}

int64_t ew_timerq_next_due(const ew_timerq_t *tq)
{
        return tq->n ? tq->heap[0].due : -1;
}

void *ew_timerq_pop_due(ew_timerq_t *tq, int64_t now_ms)
{
        ew_timer_t *t;

        if (tq->n == 0 || tq->heap[0].due > now_ms)
                return NULL;
        t = tq->heap[0].t;
        remove_at(tq, 0);
        return t->item;
}

size_t ew_timerq_count(const ew_timerq_t *tq)
{
        return tq->n;
}
