/*
 * test_chart.c - the admin chart's value axis (util/ml_chart_scale.h):
 * readable steps from a single click to millions, and short labels.
 */
#include <string.h>
#include <CUnit/CUnit.h>
#include "../../util/ml_chart_scale.h"
#include "unit_suites.h"

/* largest -> step, top, intervals, with at most 5 ticks above 0. */
static const struct {
    uint64_t largest, step, top;
    int intervals;
} scales[] = {
    { 0, 1, 1, 1 },                  /* nothing yet: still an axis */
    { 1, 1, 1, 1 },
    { 3, 1, 3, 3 },
    { 5, 1, 5, 5 },
    { 6, 2, 6, 3 },
    { 7, 2, 8, 4 },
    { 10, 2, 10, 5 },
    { 11, 5, 15, 3 },
    { 26, 10, 30, 3 },
    { 99, 20, 100, 5 },
    { 101, 50, 150, 3 },
    { 4999, 1000, 5000, 5 },
    { 3456789, 1000000, 4000000, 4 },
    { 12000000, 5000000, 15000000, 3 },
    { UINT64_C(999999999999), UINT64_C(200000000000), UINT64_C(1000000000000), 5 },
};

static void test_scale_steps_are_1_2_5_and_cover_the_largest(void)
{
    size_t i;

    for (i = 0; i < sizeof(scales) / sizeof(scales[0]); i++) {
        ml_chart_scale scale;
        ml_chart_scale_for(scales[i].largest, 5, &scale);
        CU_ASSERT_EQUAL(scale.step, scales[i].step);
        CU_ASSERT_EQUAL(scale.top, scales[i].top);
        CU_ASSERT_EQUAL(scale.intervals, scales[i].intervals);
    }
}

/* The 1-2-5 step before step (0 before 1). */
static uint64_t step_before(uint64_t step)
{
    uint64_t power = 1;

    while (step / power >= 10) {
        power *= 10;
    }
    switch (step / power) {
    case 1:
        return power / 2;              /* 10 -> 5, 1 -> 0 */
    case 2:
        return power;
    default:
        return 2 * power;
    }
}

/* Every value from 0 to 100,000, then a spread up to 10^18: the top covers
 * it, there are 1 to 5 ticks, the step is 1, 2 or 5 x 10^k, and it is the
 * smallest such step that fits (the one before needs more than 5 ticks). */
static void test_scale_holds_for_every_value(void)
{
    uint64_t value = 0;
    int bad = 0;

    while (value <= ML_CHART_LARGEST) {
        ml_chart_scale scale;
        uint64_t first, power = 1;
        ml_chart_scale_for(value, 5, &scale);
        while (scale.step / power >= 10) {
            power *= 10;
        }
        first = scale.step / power;
        bad += scale.top < value || scale.intervals < 1 || scale.intervals > 5
               || scale.top != scale.step * (uint64_t)scale.intervals
               || scale.step != first * power
               || (first != 1 && first != 2 && first != 5)
               || (step_before(scale.step) > 0
                   && value <= step_before(scale.step) * 5);
        value = value < 100000 ? value + 1 : value / 7 * 9 + 13;
    }
    CU_ASSERT_EQUAL(bad, 0);
}

static void test_scale_of_huge_values_does_not_overflow(void)
{
    ml_chart_scale scale;

    ml_chart_scale_for(UINT64_MAX, 1, &scale);
    CU_ASSERT_EQUAL(scale.top, ML_CHART_LARGEST);
    ml_chart_scale_for(UINT64_MAX, 0, &scale);    /* at least 1 interval */
    CU_ASSERT_EQUAL(scale.intervals, 1);
}

static void test_labels_are_short_and_never_round_up(void)
{
    static const struct {
        uint64_t value;
        const char *label;
    } labels[] = {
        { 0, "0" }, { 7, "7" }, { 999, "999" }, { 1000, "1k" }, { 1500, "1.5k" },
        { 1999, "1.99k" }, { 2500, "2.5k" }, { 250000, "250k" },
        { 1000000, "1M" }, { 1250000, "1.25M" }, { 20000000, "20M" },
        { UINT64_C(3000000000), "3G" }, { UINT64_C(4200000000000), "4.2T" },
        { UINT64_MAX, "18446744.07T" },
    };
    char out[ML_CHART_LABEL];
    size_t i;

    for (i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
        ml_chart_label(labels[i].value, out, sizeof(out));
        CU_ASSERT_STRING_EQUAL(out, labels[i].label);
    }
}

void add_chart_suite(void)
{
    CU_pSuite suite = CU_add_suite("chart", NULL, NULL);

    CU_add_test(suite, "scale: 1-2-5 steps covering the largest value",
                test_scale_steps_are_1_2_5_and_cover_the_largest);
    CU_add_test(suite, "scale: holds for every value up to 10^18",
                test_scale_holds_for_every_value);
    CU_add_test(suite, "scale: huge values do not overflow",
                test_scale_of_huge_values_does_not_overflow);
    CU_add_test(suite, "labels: short, cut not rounded",
                test_labels_are_short_and_never_round_up);
}
