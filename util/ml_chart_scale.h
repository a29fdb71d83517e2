/*
 * ml_chart_scale.h - the value axis of a bar chart: where its ticks go and
 * what they say, for counts from 0 to billions.
 *
 * Ticks are multiples of a step of 1, 2 or 5 times a power of ten (the
 * steps people read at a glance), at most a given number of them; labels
 * are short ("750", "1.5k", "20M") so they fit the chart's narrow margin.
 * Pure functions of their arguments: the admin pages' SVG chart
 * (module/admin_chart.c) draws with them, the unit tests check them.
 * Depends on the C library only.
 */
#ifndef ML_CHART_SCALE_H
#define ML_CHART_SCALE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t step;        /* between two ticks: 1, 2 or 5 x 10^k */
    uint64_t top;         /* the axis' top: step x intervals, >= the largest value */
    int intervals;        /* ticks above 0 (1 to the most asked for) */
} ml_chart_scale;

/* The scale for values up to largest (taken as ML_CHART_LARGEST when
 * larger), with at most most_intervals ticks above 0 (at least 1 is
 * used).  largest 0 gives a scale of 0 to 1. */
#define ML_CHART_LARGEST UINT64_C(1000000000000000000)
void ml_chart_scale_for(uint64_t largest, int most_intervals,
                        ml_chart_scale *scale);

/* A count as a tick label: digits below 1000, else k, M, G or T with at
 * most two decimals, trailing zeros dropped ("1.5k", "2M", "1.25G"); the
 * decimals are cut, never rounded up, so a label never says more than the
 * value.  Into out (ML_CHART_LABEL bytes are always enough). */
#define ML_CHART_LABEL 16
void ml_chart_label(uint64_t value, char *out, size_t size);

#endif /* ML_CHART_SCALE_H */
