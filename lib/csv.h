/*
 * CSV reports: RFC 4180 fields, safe to open in a spreadsheet, written to a
 * file atomically.
 *
 * Fields are quoted when they hold a comma, a double quote, CR or LF (quotes
 * doubled), rows end in CRLF. A field a spreadsheet would run as a formula —
 * its first character, after any leading spaces, tabs, CR or LF, is one of
 * = + - @ — gets a leading apostrophe (OWASP's "CSV injection" advice), so
 * it reads as text. The exact value stays where it came from (the database):
 * a report is for people.
 *
 * A report file is written to "<dir>/.<name>.tmp" and renamed to
 * "<dir>/<name>" when complete, so a reader never sees half a report and a
 * crash leaves no truncated file under the real name. The directory is
 * created when missing.
 *
 *	struct csv_file f;
 *	csv_file_open(&f, "reports", "orphaned_files_2025-07-01_120000.csv");
 *	csv_field(&f.row, "id", true); ... csv_end_row(&f.row); csv_file_flush(&f);
 *	csv_file_commit(&f);   (or csv_file_abort(&f))
 *
 * Ownership: struct csv_file owns its stream, paths and row buffer until
 * csv_file_commit() or csv_file_abort(), which release everything.
 */
#ifndef JOBRUN_CSV_H
#define JOBRUN_CSV_H

#include <stdbool.h>
#include <stdio.h>

#include "buf.h"

/* Pure (unit-tested). */
/* Whether a spreadsheet would read value as a formula. */
bool csv_is_formula(const char *value);
/* Append one field to row, a comma first unless first; NULL is empty. */
void csv_field(struct buf *row, const char *value, bool first);
/* End the row: CRLF. */
void csv_end_row(struct buf *row);
/* "<prefix>YYYY-MM-DD_HHMMSS.csv" of a UTC wall time into out. */
void csv_report_name(char *out, size_t len, const char *prefix, double wall);

struct csv_file {
	FILE *fp;
	char *dir;
	char *path;     /* the final name: <dir>/<name> */
	char *tmp_path; /* where it is written until committed */
	struct buf row; /* rows waiting for csv_file_flush() */
};

/* Create dir (and its parents) when missing and open the temporary file.
 * -1 with an error() naming the directory or file and the system's reason. */
int csv_file_open(struct csv_file *f, const char *dir, const char *name);
/* Write the buffered rows out. -1 with error() on a write error. */
int csv_file_flush(struct csv_file *f);
/* Flush, fsync, close and rename into place; releases f. -1 with error(). */
int csv_file_commit(struct csv_file *f);
/* Close and remove the temporary file; releases f. NULL-safe on a closed f. */
void csv_file_abort(struct csv_file *f);

#endif
