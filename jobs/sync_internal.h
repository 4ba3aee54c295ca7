/*
 * Shared by the sync files: the operations' descriptions, the state of one
 * integration and of one operation, and the writes (sync_store.c). Not used
 * outside jobs/sync*.c.
 */
#ifndef JOBRUN_JOBS_SYNC_INTERNAL_H
#define JOBRUN_JOBS_SYNC_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>

#include "shipstation.h"
#include "sync.h"
#include "task.h"

struct db;

/* A column of a mirror, read from the upstream record in SQL. */
struct sync_col {
	const char *name; /* the column and the record's field */
	char type;        /* 't' text, 'b' boolean, 'i' integer */
};

/* What one operation reads and where it goes. */
struct sync_op {
	enum sync_op_id id;
	const char *name;         /* "products": the operation, the path below /v2/, the list's key */
	int phase;                /* 1 in order, 2 at once */
	bool addon;               /* needs ShipStation's Inventory add-on */
	const char *table;        /* "shipstation.products" */
	struct sync_col cols[8];  /* the key's columns first; {NULL}-terminated */
	int n_keys;
};

extern const struct sync_op sync_ops[SYNC_NOPS];

/* Row counts of one operation (a dry run's inserted/updated/removed are
 * what it would have done). */
struct sync_counts {
	long long fetched, inserted, updated, unchanged, removed, unusable;
};

struct sync_integration;

enum sync_op_state { OP_PENDING, OP_RUNNING, OP_DONE };

struct sync_op_run {
	const struct sync_op *op;
	struct sync_integration *in;
	enum sync_op_state state;
	struct task_op top;       /* its entry in the run summary */
	struct sync_counts n;
	long long pages;
	double started_mono, duration_s;
	bool success;
	bool stopped;             /* cut short by the deadline or a signal */
	char error[512];          /* redacted */
};

enum sync_in_state { IN_WAITING, IN_RUNNING, IN_DONE, IN_SKIPPED };

struct sync_run;

struct sync_integration {
	struct sync_run *run;     /* borrowed: the run it belongs to */
	long long id;
	char *name;
	char *api_url;            /* NULL: SHIPSTATION_API_URL */
	char *key;                /* the secret: registered with redact, never printed */
	char bucket[48];          /* "key-<8 hex of its SHA-256>" */
	enum sync_in_state state;
	struct ss_account *account;
	struct sync_op_run ops[SYNC_NOPS]; /* the selected operations, in order */
	int n_ops;
	int next;                 /* the next phase-1 operation to start */
	int running;              /* operations in flight */
	bool starting;            /* advance() is starting operations */
	double started_mono, started_wall;
	char error[512];          /* a reason for the whole integration (lock, api_url) */
	json_t *entry;            /* borrowed: its object in the summary's "integrations" */
};

/* The run (sync.c), inside a started task. */
enum run_status sync_run(struct task *t, const struct sync_options *opt);

/* Writes (sync_store.c). Each returns -1 with the database's error
 * reported. */

/* The session's temp tables, once per run: the page in hand and the keys
 * each operation has seen so far. */
int sync_store_prepare(struct db *db);
/* One page in one transaction: COPY, then one upsert that leaves unchanged
 * rows alone (a dry run: a read-only transaction that only counts).
 * Adds to *n. */
int sync_store_page(struct db *db, const struct sync_op *op, long long integration_id,
		    json_t *items, bool dry_run, struct sync_counts *n);
/* After the last page: rows of the integration the operation did not see
 * are marked removed (dry run: counted). */
int sync_store_finish(struct db *db, const struct sync_op *op, long long integration_id,
		      bool dry_run, long long *removed);
/* Forget what the operation saw (it ended without reading every page). */
int sync_store_forget(struct db *db, const struct sync_op *op, long long integration_id);
/* The integrations to sync: every active one, or those named (by id or
 * name). A name that matches none, or an inactive one named, is a
 * config_error(). Caller frees with sync_integrations_free. */
int sync_load_integrations(struct db *db, const char *const *refs, int n_refs,
			   struct sync_integration **out, int *n);
void sync_integrations_free(struct sync_integration *in, int n);
/* The sync_logs row of one integration's sync; results is borrowed. */
int sync_store_log(struct db *db, const struct sync_integration *in, long long run_id,
		   json_t *results, int total, int ok, int failed, long long duration_ms);

#endif
