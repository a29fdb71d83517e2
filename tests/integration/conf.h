/*
 * conf.h - configuration pieces: string literals the compiler joins into the text that follows a
 * server's base configuration (conf.c), so a suite's configuration reads as a list of what it has:
 *
 *     MINILINK_AT("/l", "MinilinkCreate On\n")
 *     MINILINK_AT("/private", BASIC_AUTH)
 *     HANDLER_AT("/server-status", "server-status")
 *
 * @DIR@ and @PORT@ are replaced with the server's directory and port when the file is written.
 * The modules a piece needs are named next to it; suite_group.modules loads them.
 */
#ifndef CONF_H
#define CONF_H

#define LOCATION(path, body) "<Location " path ">\n" body "</Location>\n"

/* A location the module answers (directives: more for it, or ""). */
#define MINILINK_AT(path, directives) LOCATION(path, "SetHandler minilink\n" directives)

/* A handler anyone may reach: "server-status" (module status) or "minilink-admin".  Needed because
 * the base denies <Directory />. */
#define HANDLER_AT(path, handler) \
    LOCATION(path, "SetHandler " handler "\nRequire all granted\n")

/* A name-based virtual host on the server's address. */
#define VHOST(name, body) \
    "<VirtualHost 127.0.0.1:@PORT@>\nServerName " name "\n" body "</VirtualHost>\n"

/* Basic authentication against <dir>/passwd (suite_group.passwd writes it); modules auth_basic
 * authn_file authz_user. */
#define BASIC_AUTH \
    "AuthType Basic\nAuthName \"minilink test\"\nAuthUserFile @DIR@/passwd\n" \
    "Require valid-user\n"

/* An access log <dir>/<name>.log with this LogFormat. */
#define ACCESS_LOG(name, format) \
    "LogFormat \"" format "\" " name "\nCustomLog @DIR@/" name ".log " name "\n"

/* Which path answered what (the request note minilink-answered): log_answered() reads it. */
#define ANSWERED_LOG(name) ACCESS_LOG(name, "%>s %m %U %{minilink-answered}n")

/* Which child answered what: pids_log_scan() and children_serving() read it. */
#define PIDS_LOG ACCESS_LOG("pids", "%P %>s %m %U")

#endif /* CONF_H */
