/*
 * ml_agent.h - what a User-Agent says about a visitor: browser, operating
 * system, device type, bot or not.
 *
 * The browser, OS and device families come from uap-core's regexes.yaml
 * (the ua-parser project's shared list, Debian package uap-core), read
 * with libyaml and matched with PCRE2 as its specification says: the
 * first regex of each list that matches wins, "$1".."$9" in a replacement
 * take the match's groups.  What is ours is the last step, from families
 * to a device type (ml_agents_classify() says how).  Each string is
 * classified once: results are kept by user agent, so the thousands of
 * visits of one browser cost one classification.  Used on the way out (the
 * CLI) and by the drain (the bot flag the daily roll-up counts), never on
 * the redirect path.  Depends on APR, libyaml and PCRE2.
 */
#ifndef ML_AGENT_H
#define ML_AGENT_H

#include <apr_pools.h>

/* Where Debian's uap-core puts its regexes. */
#define ML_AGENT_REGEXES "/usr/share/uap-core/regexes.yaml"

typedef struct ml_agents ml_agents;

/* What a user agent is; the strings live as long as the ml_agents. */
typedef struct {
    const char *browser;          /* uap-core's family: "Chrome", "curl";
                                   * "Other" when none matched */
    const char *os;               /* "Windows", "iOS", "Other"... */
    const char *device;           /* desktop, mobile, tablet, bot, other */
    int bot;
} ml_agent;

/*
 * Reads and compiles the regexes at path (ML_AGENT_REGEXES) into pool.  On
 * failure *error says why (from pool) and *agents is NULL.
 */
apr_status_t ml_agents_load(ml_agents **agents, const char *path,
                            apr_pool_t *pool, const char **error);

/*
 * Classifies a user agent (NULL or "": none, which counts as a bot: what
 * sends no User-Agent is a script).  The device type: bot for what
 * uap-core's device list calls a Spider (crawlers, link previews,
 * monitors) and for HTTP tools and libraries (curl, Wget,
 * python-requests, Go-http-client...); tablet for an iPad, a device
 * family naming a tablet or Kindle, or Android without "Mobile" in the
 * string (Google's rule for Android tablets); mobile for a phone's device
 * family or a mobile OS (iOS, Android, Windows Phone, BlackBerry, KaiOS,
 * Symbian); desktop for a desktop OS (Windows, Mac OS X, Linux and its
 * distributions, Chrome OS, the BSDs); other for the rest (TVs, consoles,
 * the unknown).
 */
void ml_agents_classify(ml_agents *agents, const char *user_agent,
                        ml_agent *agent);

#endif /* ML_AGENT_H */
