/*
 * ew_offsets - see ew_offsets.h.
 *
 * The ring holds the offsets in consume order at logical positions
 * 0..count-1 (physical (head + i) & (cap - 1)), with a parallel array of
 * done flags. Position 0 is never done: done() pops the finished prefix
 * immediately, moving the commit position past it.
 */
#include "ew_offsets.h"

#include <stdlib.h>
#include <string.h>

#define INITIAL_CAP ((size_t)64)
/* reset() frees buffers larger than this; smaller ones are kept. */
#define KEEP_CAP ((size_t)4096)

struct ew_offsets {
        int64_t       *offs;         /* ring of tracked offsets */
        unsigned char *done;         /* ring of done flags, same indexing */
        size_t         cap;          /* 0 or a power of two */
        size_t         head;         /* physical index of logical position 0 */
        size_t         count;        /* entries held */
        size_t         pending;      /* entries held and not done */
        int64_t        last_tracked; /* -1 = none since creation/reset */
        int64_t        position;     /* last popped offset + 1, -1 = none */
        int64_t        returned;     /* last position committable() returned */
};

ew_offsets_t *ew_offsets_new(void)
{
        ew_offsets_t *o = calloc(1, sizeof(*o));

        if (!o)
                return NULL;
        o->last_tracked = -1;
        o->position     = -1;
        o->returned     = -1;
        return o;
}

void ew_offsets_destroy(ew_offsets_t *o)
{
        if (!o)
                return;
        free(o->offs);
        free(o->done);
        free(o);
}

/* Physical index of logical position i. */
static size_t phys(const ew_offsets_t *o, size_t i)
{
        return (o->head + i) & (o->cap - 1);
}

/* Doubles the ring (or allocates the first one), unwrapping it so the
 * head lands at index 0. Returns 0, or -1 (unchanged) if out of memory or
 * at the limit. */
static int grow(ew_offsets_t *o)
{
        size_t         newcap = o->cap ? o->cap * 2 : INITIAL_CAP;
        int64_t       *offs;
        unsigned char *done;
        size_t         i;

        if (newcap > EW_OFFSETS_MAX_PENDING)
                return -1;
        offs = malloc(newcap * sizeof(*offs));
        done = malloc(newcap);
        if (!offs || !done) {
                free(offs);
                free(done);
                return -1;
        }
        for (i = 0; i < o->count; i++) {
                offs[i] = o->offs[phys(o, i)];
                done[i] = o->done[phys(o, i)];
        }
        free(o->offs);
        free(o->done);
        o->offs = offs;
        o->done = done;
        o->cap  = newcap;
        o->head = 0;
        return 0;
}

int ew_offsets_track(ew_offsets_t *o, int64_t offset)
{
        size_t i;

        if (offset < 0 || offset <= o->last_tracked)
                return EW_OFFSETS_ERR_ORDER;
        if (o->count == o->cap && grow(o) == -1)
                return EW_OFFSETS_ERR_FULL;
        i          = phys(o, o->count);
        o->offs[i] = offset;
        o->done[i] = 0;
        o->count++;
        o->pending++;
        o->last_tracked = offset;
        return 0;
}

/* Logical position of offset, or SIZE_MAX if not held. */
static size_t find(const ew_offsets_t *o, int64_t offset)
{
        int64_t  first;
        size_t   lo, hi, mid;
        uint64_t delta;

        if (o->count == 0)
                return SIZE_MAX;
        first = o->offs[o->head];
        if (offset < first || offset > o->last_tracked)
                return SIZE_MAX;
        /* Without gaps, offset sits exactly delta positions in. */
        delta = (uint64_t)offset - (uint64_t)first;
        if (delta < o->count && o->offs[phys(o, (size_t)delta)] == offset)
                return (size_t)delta;
        /* With gaps it sits at or before that: binary search [lo, hi). */
        lo = 0;
        hi = delta < o->count ? (size_t)delta : o->count;
        while (lo < hi) {
                mid = lo + (hi - lo) / 2;
                if (o->offs[phys(o, mid)] < offset)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (lo < o->count && o->offs[phys(o, lo)] == offset)
                return lo;
        return SIZE_MAX;
}

int ew_offsets_done(ew_offsets_t *o, int64_t offset)
{
        size_t i = find(o, offset);

        if (i == SIZE_MAX || o->done[phys(o, i)])
                return -1;
        o->done[phys(o, i)] = 1;
        o->pending--;
        /* Pop the finished prefix; each entry is popped once, so this is
         * amortised O(1) per tracked offset. */
        while (o->count > 0 && o->done[o->head]) {
                o->position = o->offs[o->head] + 1;
                o->head     = (o->head + 1) & (o->cap - 1);
                o->count--;
        }
        return 0;
}

int64_t ew_offsets_committable(ew_offsets_t *o)
{
        if (o->position < 0 || o->position == o->returned)
                return -1;
        o->returned = o->position;
        return o->position;
}

int64_t ew_offsets_position(const ew_offsets_t *o)
{
        return o->position;
}

size_t ew_offsets_pending(const ew_offsets_t *o)
{
        return o->pending;
}

size_t ew_offsets_held(const ew_offsets_t *o)
{
        return o->count;
}

void ew_offsets_reset(ew_offsets_t *o)
{
        if (o->cap > KEEP_CAP) {
                free(o->offs);
                free(o->done);
                o->offs = NULL;
                o->done = NULL;
                o->cap  = 0;
        }
        o->head         = 0;
        o->count        = 0;
        o->pending      = 0;
        o->last_tracked = -1;
        o->position     = -1;
        o->returned     = -1;
}
