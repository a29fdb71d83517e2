/*
 * ml_chart_scale.c - a bar chart's value axis (ml_chart_scale.h).
 *
 * Hand-written: the rule is a dozen lines (the "nice numbers" of every
 * plotting library), and Debian has no C library for it that does not
 * also bring a whole plotting stack.
 */
#include <stdio.h>
#include "ml_chart_scale.h"

void ml_chart_scale_for(uint64_t largest, int most_intervals,
                        ml_chart_scale *scale)
{
    static const uint64_t multiples[] = { 1, 2, 5 };
    uint64_t smallest_step, power = 1;
    int i;

    if (most_intervals < 1) {
        most_intervals = 1;
    }
    /* Beyond any count of clicks; below it no product here overflows. */
    if (largest > ML_CHART_LARGEST) {
        largest = ML_CHART_LARGEST;
    }
    /* The step must be at least largest / most_intervals, rounded up. */
    smallest_step = largest / (uint64_t)most_intervals
                    + (largest % (uint64_t)most_intervals != 0);
    if (smallest_step == 0) {
        smallest_step = 1;
    }
    scale->step = 0;
    while (scale->step == 0) {
        for (i = 0; i < 3 && scale->step == 0; i++) {
            if (multiples[i] * power >= smallest_step) {
                scale->step = multiples[i] * power;
            }
        }
        power *= 10;
    }
    scale->intervals = (int)(largest / scale->step
                             + (largest % scale->step != 0));
    if (scale->intervals < 1) {
        scale->intervals = 1;
    }
    scale->top = scale->step * (uint64_t)scale->intervals;
}

void ml_chart_label(uint64_t value, char *out, size_t size)
{
    static const struct {
        uint64_t unit;
        char suffix;
    } units[] = {
        { UINT64_C(1000000000000), 'T' }, { UINT64_C(1000000000), 'G' },
        { UINT64_C(1000000), 'M' }, { UINT64_C(1000), 'k' },
    };
    size_t i;

    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (value >= units[i].unit) {
            uint64_t whole = value / units[i].unit;
            /* Hundredths, cut: 1999 is "1.99k", never "2k". */
            unsigned hundredths = (unsigned)(value % units[i].unit * 100
                                             / units[i].unit);
            if (hundredths == 0) {
                snprintf(out, size, "%llu%c", (unsigned long long)whole,
                         units[i].suffix);
            }
            else if (hundredths % 10 == 0) {
                snprintf(out, size, "%llu.%u%c", (unsigned long long)whole,
                         hundredths / 10, units[i].suffix);
            }
            else {
                snprintf(out, size, "%llu.%02u%c", (unsigned long long)whole,
                         hundredths, units[i].suffix);
            }
            return;
        }
    }
    snprintf(out, size, "%llu", (unsigned long long)value);
}
