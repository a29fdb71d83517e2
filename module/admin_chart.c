/*
 * module/admin_chart.c - clicks per day as an SVG bar chart, drawn here so
 * the pages need no script: one <g> a day holding a bar of people and,
 * stacked on it in a lighter shade, its bots; a <title> in each with the
 * exact figures (a browser shows it on hover, a screen reader reads it);
 * a value axis whose ticks util/ml_chart_scale.c chooses; the first, the
 * middle and the last date below.  The viewBox scales the whole to any
 * width; on a narrow screen the page's style makes the labels larger in
 * its units, so they stay readable at 360 px.  Each day's figures are
 * also in data-* attributes (tests compare them with the database) and
 * in a table below, for a text browser.
 */
#include "httpd.h"
#include "http_protocol.h"
#include "apr_strings.h"

#include "admin.h"
#include "../util/ml_chart_scale.h"

/* The drawing, in viewBox units. */
#define WIDTH 720.0
#define HEIGHT 256.0
#define PLOT_LEFT 64.0         /* room for the value labels */
#define PLOT_RIGHT 712.0
#define PLOT_TOP 10.0
#define PLOT_BOTTOM 222.0      /* room for the dates */
#define MOST_TICKS 5
#define PEOPLE_FILL "#2b59c3"
#define BOTS_FILL "#a9bce8"

apr_status_t ml_admin_collect_day(void *ctx, const ml_store_visit_day *day)
{
    APR_ARRAY_PUSH((apr_array_header_t *)ctx, ml_store_visit_day) = *day;
    return APR_SUCCESS;
}

ml_admin_day *ml_admin_days_fill(apr_pool_t *pool, apr_int64_t first,
                                 int count, const apr_array_header_t *days)
{
    ml_admin_day *filled = apr_pcalloc(pool, sizeof(*filled)
                                             * (apr_size_t)(count + 1));
    int i;

    for (i = 0; i < count; i++) {
        filled[i].day = first + (apr_int64_t)i * 86400;
    }
    /* Summed: the overview's days come a link at a time. */
    for (i = 0; days && i < days->nelts; i++) {
        const ml_store_visit_day *day = &APR_ARRAY_IDX(days, i,
                                                       ml_store_visit_day);
        apr_int64_t at = (day->day - first) / 86400;
        if (day->day >= first && at < count) {
            filled[at].clicks += day->clicks;
            filled[at].bots += day->bots;
        }
    }
    return filled;
}

static const char *date_of(apr_pool_t *pool, apr_int64_t day)
{
    apr_time_exp_t t;
    char text[16];
    apr_size_t len;

    apr_time_exp_gmt(&t, apr_time_from_sec(day));
    apr_strftime(text, &len, sizeof(text), "%Y-%m-%d", &t);
    return apr_pstrdup(pool, text);
}

static void value_axis(request_rec *r, const ml_chart_scale *scale)
{
    char label[ML_CHART_LABEL];
    int i;

    for (i = 0; i <= scale->intervals; i++) {
        double y = PLOT_BOTTOM - (PLOT_BOTTOM - PLOT_TOP) * i / scale->intervals;
        ml_chart_label(scale->step * (uint64_t)i, label, sizeof(label));
        ap_rprintf(r, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                   "stroke=\"%s\"/><text x=\"%.1f\" y=\"%.1f\" "
                   "text-anchor=\"end\" font-size=\"12\" fill=\"#5b6475\">%s"
                   "</text>\n", PLOT_LEFT, y, PLOT_RIGHT, y,
                   i ? "#e3e6eb" : "#5b6475", PLOT_LEFT - 6, y + 4, label);
    }
}

static void date_labels(request_rec *r, const ml_admin_day *days, int count,
                        double bar)
{
    int at[3] = { 0, count / 2, count - 1 }, i;
    const char *anchor[3] = { "start", "middle", "end" };

    for (i = 0; i < (count > 2 ? 3 : count); i++) {
        double x = i == 0 ? PLOT_LEFT : i == 2 ? PLOT_RIGHT
                   : PLOT_LEFT + bar * (at[i] + 0.5);
        ap_rprintf(r, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" "
                   "font-size=\"12\" fill=\"#5b6475\" dominant-baseline=\"hanging\">"
                   "%s</text>\n", x, PLOT_BOTTOM + 6, anchor[i],
                   date_of(r->pool, days[at[i]].day));
    }
}

static void figures_table(ml_admin *a, const ml_admin_day *days, int count)
{
    int i;

    ap_rputs("<details><summary>The figures, day by day</summary>\n<table>"
             "<thead><tr><th>Day</th><th class=\"n\">Clicks</th>"
             "<th class=\"n\">of them bots</th></tr></thead><tbody>\n", a->r);
    for (i = count - 1; i >= 0; i--) {
        if (days[i].clicks) {
            ap_rprintf(a->r, "<tr><td>%s</td><td class=\"n\">%" APR_INT64_T_FMT
                       "</td><td class=\"n\">%" APR_INT64_T_FMT "</td></tr>\n",
                       date_of(a->r->pool, days[i].day), days[i].clicks,
                       days[i].bots);
        }
    }
    ap_rputs("</tbody></table></details>\n", a->r);
}

void ml_admin_chart(ml_admin *a, const ml_admin_day *days, int count,
                    const char *caption)
{
    request_rec *r = a->r;
    apr_int64_t largest = 0, total = 0, bots = 0;
    ml_chart_scale scale;
    double bar, gap, height = PLOT_BOTTOM - PLOT_TOP;
    int i;

    for (i = 0; i < count; i++) {
        largest = days[i].clicks > largest ? days[i].clicks : largest;
        total += days[i].clicks;
        bots += days[i].bots;
    }
    ml_chart_scale_for((uint64_t)largest, MOST_TICKS, &scale);
    bar = (PLOT_RIGHT - PLOT_LEFT) / (count > 0 ? count : 1);
    gap = bar > 4 ? 1 : 0;
    ap_rprintf(r, "<figure id=\"chart\">\n<svg class=\"chart\" "
               "xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" "
               "role=\"img\" aria-labelledby=\"chart-caption\" "
               "data-top=\"%" APR_UINT64_T_FMT "\">\n", WIDTH, HEIGHT,
               (apr_uint64_t)scale.top);
    value_axis(r, &scale);
    for (i = 0; i < count; i++) {
        double people_h = height * (double)(days[i].clicks - days[i].bots)
                          / (double)scale.top;
        double bots_h = height * (double)days[i].bots / (double)scale.top;
        double x = PLOT_LEFT + bar * i + gap / 2;
        const char *date = date_of(r->pool, days[i].day);
        ap_rprintf(r, "<g class=\"day\" data-day=\"%s\" data-clicks=\"%"
                   APR_INT64_T_FMT "\" data-bots=\"%" APR_INT64_T_FMT "\">"
                   "<title>%s: %" APR_INT64_T_FMT " clicks, %" APR_INT64_T_FMT
                   " by bots</title>", date, days[i].clicks, days[i].bots,
                   date, days[i].clicks, days[i].bots);
        if (people_h > 0) {
            ap_rprintf(r, "<rect class=\"people\" x=\"%.2f\" y=\"%.2f\" "
                       "width=\"%.2f\" height=\"%.2f\" fill=\"" PEOPLE_FILL
                       "\"/>", x, PLOT_BOTTOM - people_h, bar - gap, people_h);
        }
        if (bots_h > 0) {
            ap_rprintf(r, "<rect class=\"bots\" x=\"%.2f\" y=\"%.2f\" "
                       "width=\"%.2f\" height=\"%.2f\" fill=\"" BOTS_FILL
                       "\"/>", x, PLOT_BOTTOM - people_h - bots_h, bar - gap,
                       bots_h);
        }
        ap_rputs("</g>\n", r);
    }
    if (count > 0) {
        date_labels(r, days, count, bar);
    }
    ap_rprintf(r, "</svg>\n<figcaption id=\"chart-caption\">%s: %"
               APR_INT64_T_FMT " clicks in %d days, %" APR_INT64_T_FMT
               " of them by bots. <span class=\"hint\"><span style=\"color:"
               PEOPLE_FILL "\">&#9632;</span> people <span style=\"color:"
               BOTS_FILL "\">&#9632;</span> bots</span></figcaption>\n"
               "</figure>\n", ml_admin_html(a, caption), total, count, bots);
    figures_table(a, days, count);
}
