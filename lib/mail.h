/*
 * Mail: messages jobrun builds itself, sent over SMTP through libcurl.
 *
 * Configuration (the environment, read by mail_config_from_env):
 *   SMTP_URL      smtp://user:pass@host:587  STARTTLS required, unless the host
 *                                            is loopback (localhost, 127.0.0.0/8,
 *                                            ::1): then plain, it never leaves
 *                                            the machine
 *                 smtps://user:pass@host:465 implicit TLS
 *                 The port defaults to 587 (smtp) or 465 (smtps); user and
 *                 password are optional together (no AUTH without them) and
 *                 percent-decoded; a path is the EHLO name, as in curl.
 *   when SMTP_URL is unset, the variables Heroku's add-ons set:
 *     Mailgun    MAILGUN_SMTP_SERVER, MAILGUN_SMTP_PORT (587; 465 = implicit
 *                TLS), MAILGUN_SMTP_LOGIN, MAILGUN_SMTP_PASSWORD
 *     SendGrid   SENDGRID_USERNAME, SENDGRID_PASSWORD (smtp.sendgrid.net:587)
 *   ADMIN_EMAIL   recipients, comma-separated bare addresses (required)
 *   MAIL_FROM     "addr" or "Name <addr>"; default jobrun@$MAILGUN_DOMAIN when
 *                 set, else jobrun@<hostname>
 * Certificates are verified against the system store, or CURL_CA_BUNDLE /
 * SSL_CERT_FILE / SSL_CERT_DIR as for every other transfer.
 *
 * Passwords are registered with redact_add() as they are read. A missing or
 * malformed variable is config_error() naming it (exit 78), never echoing it.
 *
 * Sending never touches error_last(): a mail that cannot be sent is logged at
 * error level and described in struct mail_result, which the job records in
 * its run summary (mail_result_json). It must never change a job's exit code
 * or lose its work: jobs read the configuration when they start (so a
 * malformed SMTP_URL fails before any work) and mail when the work is saved.
 *
 * Messages are built by jobrun (mail_build), not by libcurl's MIME API: every
 * byte is then a pure function of its inputs that unit tests can compare, and
 * the headers that matter (Date, Message-ID, RFC 2047 Subject, RFC 2231
 * file names) would have to be built here anyway. Lines end in CRLF
 * throughout, which is what libcurl's dot-stuffing looks for; bodies are
 * quoted-printable and attachments base64, so no line exceeds 76 characters.
 *
 * Ownership: struct mail_config owns its strings (mail_config_release). A
 * struct mail_message and its attachments are borrowed by every call.
 * struct mail_result is plain data.
 */
#ifndef JOBRUN_MAIL_H
#define JOBRUN_MAIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct buf;

enum mail_tls { MAIL_TLS_NONE, MAIL_TLS_STARTTLS, MAIL_TLS_IMPLICIT };

struct mail_addrs {
	char **addr; /* owned addr-specs, local@domain */
	size_t n;
};

struct mail_config {
	char *url;           /* smtp(s)://host:port[/ehlo], no credentials; owned */
	char *server;        /* host:port, for messages; owned */
	char *username;      /* owned; NULL: no AUTH */
	char *password;      /* owned; registered secret; NULL with username */
	enum mail_tls tls;
	const char *source;  /* the variable it came from: "SMTP_URL", … */
	char *from;          /* MAIL_FROM addr-spec; owned */
	char *from_name;     /* display name or NULL; owned */
	struct mail_addrs to; /* ADMIN_EMAIL */
};

/* True when some mail transport is configured (SMTP_URL or an add-on). */
bool mail_configured(void);
/* Read and validate everything above. On error cfg is left empty. */
int mail_config_from_env(struct mail_config *cfg);
void mail_config_release(struct mail_config *cfg);

struct mail_attachment {
	const char *filename;     /* UTF-8; encoded as RFC 2231 when not plain ASCII */
	const char *content_type; /* e.g. "text/csv; charset=utf-8"; NULL: octet-stream */
	const void *data;
	size_t len;
};

struct mail_message {
	const char *subject; /* UTF-8; control characters become spaces */
	const char *body;    /* UTF-8 text; LF, CRLF or CR line ends */
	const struct mail_attachment *attachments;
	size_t n_attachments;
	/* The longest this send may take, when the caller has a tighter bound
	 * than the deadline (a notification's share of its time); 0: none. */
	double max_time_s;
};

struct mail_result {
	bool sent;           /* the server accepted the message */
	size_t recipients;   /* recipients the server accepted */
	char error[512];     /* redacted; "" when sent to everyone */
};

/* Build and send msg to cfg->to. 0 when the server took it for at least one
 * recipient; -1 otherwise. Either way res says what happened, and failures
 * (including refused recipients) are logged at error level; error_last() is
 * left alone. */
int mail_send(const struct mail_config *cfg, const struct mail_message *msg,
	      struct mail_result *res);
/* {"sent": bool, "recipients": n, "error": string|null}: a new reference for
 * the run summary's "mail" key. */
json_t *mail_result_json(const struct mail_result *res);

/* `jobrun doctor --mail`: read the configuration and send a test message to
 * ADMIN_EMAIL that uses every encoding jobs use (a non-ASCII folded subject,
 * a quoted-printable body with long lines and lines starting with a dot, a
 * CSV attachment). 0 when delivered; -1 otherwise, with the reason in detail
 * and error_last_kind() == ERR_CONFIG when the configuration is at fault. */
int mail_send_test(char *detail, size_t detail_len);

/* ------------------------------------------------- builders (mail_message.c)
 * Pure functions: no environment, no network. */

/* One address, "local@domain" or "Display Name <local@domain>". The
 * addr-spec is a dot-atom local part and a host name domain; nothing that
 * could end a header or a command (CR, LF, <, >, quotes, spaces) gets
 * through. 0 and new strings in *addr (and *name, or NULL), or -1 with the
 * reason in why. name may be NULL when a display name is not allowed. */
int mail_parse_address(const char *s, char **addr, char **name, char *why, size_t why_len);
/* Comma-separated bare addresses; at least one. 0, or -1 with why. */
int mail_parse_address_list(const char *s, struct mail_addrs *out, char *why, size_t why_len);
void mail_addrs_release(struct mail_addrs *a);

/* "Name: value\r\n", folded to 76 columns. Printable ASCII is kept as words;
 * anything else becomes RFC 2047 =?UTF-8?B?…?= encoded words, each whole
 * UTF-8 characters and at most 75 characters long. Control characters become
 * spaces and invalid UTF-8 U+FFFD, so the value can never end the header. */
void mail_add_header_text(struct buf *out, const char *name, const char *value);
/* Quoted-printable (RFC 2045 §6.7) of text whose line ends may be LF, CRLF
 * or CR: hard line breaks become CRLF, encoded lines are at most 76
 * characters, trailing whitespace is encoded. */
void mail_add_qp(struct buf *out, const char *text, size_t len);
/* Base64 in lines of 76 characters, each ending in CRLF. */
void mail_add_base64(struct buf *out, const void *data, size_t len);
/* "Tue, 01 Jul 2025 12:00:00 +0000" (RFC 5322, UTC, C locale). out >= 32. */
void mail_format_date(double wall, char *out, size_t out_len);

struct mail_envelope {
	const char *from;            /* addr-spec */
	const char *from_name;       /* or NULL */
	const struct mail_addrs *to;
	double date;                 /* wall seconds */
	const char *message_id;      /* "<…@…>" */
	const char *boundary;        /* for multipart: no quotes, no white space */
};

/* The whole message, headers and body, CRLF throughout. -1 (with why) when an
 * attachment's name or type cannot be written safely. */
int mail_build(struct buf *out, const struct mail_envelope *env, const struct mail_message *msg,
	       char *why, size_t why_len);

#endif
