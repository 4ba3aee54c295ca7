/*
 * CSV fields (RFC 4180, formulas neutralised) and report files written
 * atomically. See csv.h.
 */
#include "csv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "xalloc.h"

bool csv_is_formula(const char *value)
{
	if (!value)
		return false;
	/* Spreadsheets skip leading white space before deciding. */
	while (*value == ' ' || *value == '\t' || *value == '\r' || *value == '\n')
		value++;
	return *value && strchr("=+-@", *value);
}

void csv_field(struct buf *row, const char *value, bool first)
{
	if (!first)
		buf_addch(row, ',');
	if (!value)
		return;
	bool neutralise = csv_is_formula(value);
	bool quote = strpbrk(value, ",\"\r\n") != NULL;
	if (!quote && !neutralise) {
		buf_adds(row, value);
		return;
	}
	if (quote)
		buf_addch(row, '"');
	if (neutralise)
		buf_addch(row, '\'');
	for (const char *p = value; *p; p++) {
		if (*p == '"')
			buf_addch(row, '"');
		buf_addch(row, *p);
	}
	if (quote)
		buf_addch(row, '"');
}

void csv_end_row(struct buf *row)
{
	buf_add(row, "\r\n", 2);
}

void csv_report_name(char *out, size_t len, const char *prefix, double wall)
{
	time_t t = (time_t)wall;
	struct tm tm;
	char stamp[32];
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d_%H%M%S", &tm);
	snprintf(out, len, "%s%s.csv", prefix, stamp);
}

/* mkdir -p: each missing component in turn. */
static int make_dirs(const char *dir)
{
	char *copy = xstrdup(dir);
	int ret = 0;
	for (char *p = copy + 1;; p++) {
		if (*p && *p != '/')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(copy, 0777) && errno != EEXIST) {
			ret = error("cannot create the report directory '%s': %s", copy, strerror(errno));
			break;
		}
		*p = c;
		if (!c)
			break;
	}
	free(copy);
	if (!ret) {
		struct stat st;
		if (stat(dir, &st) || !S_ISDIR(st.st_mode))
			ret = error("the report directory '%s' is not a directory", dir);
	}
	return ret;
}

static void release(struct csv_file *f)
{
	free(f->dir);
	free(f->path);
	free(f->tmp_path);
	buf_release(&f->row);
	memset(f, 0, sizeof(*f));
}

int csv_file_open(struct csv_file *f, const char *dir, const char *name)
{
	memset(f, 0, sizeof(*f));
	if (!dir || !*dir)
		return error("the report directory is empty");
	if (make_dirs(dir))
		return -1;
	f->dir = xstrdup(dir);
	f->path = xasprintf("%s/%s", dir, name);
	f->tmp_path = xasprintf("%s/.%s.tmp", dir, name);
	int fd = open(f->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || !(f->fp = fdopen(fd, "w"))) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		error("cannot write a report in '%s': %s", dir, strerror(e));
		release(f);
		return -1;
	}
	return 0;
}

int csv_file_flush(struct csv_file *f)
{
	if (f->row.len && fwrite(f->row.data, 1, f->row.len, f->fp) != f->row.len)
		return error("cannot write the report '%s': %s", f->path, strerror(errno));
	buf_reset(&f->row);
	return 0;
}

int csv_file_commit(struct csv_file *f)
{
	int ret = csv_file_flush(f);
	if (!ret && (fflush(f->fp) || fsync(fileno(f->fp))))
		ret = error("cannot write the report '%s': %s", f->path, strerror(errno));
	if (fclose(f->fp) && !ret)
		ret = error("cannot write the report '%s': %s", f->path, strerror(errno));
	f->fp = NULL;
	if (!ret && rename(f->tmp_path, f->path))
		ret = error("cannot rename the report into '%s': %s", f->path, strerror(errno));
	if (ret)
		unlink(f->tmp_path);
	release(f);
	return ret;
}

void csv_file_abort(struct csv_file *f)
{
	if (f->fp) {
		fclose(f->fp);
		unlink(f->tmp_path);
	}
	release(f);
}
