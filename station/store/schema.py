"""The station database schema, as registered migrations applied in order.

Each migration is a function of the database, run in its own transaction and recorded in
``_migrations``; :func:`pending` lists those not yet applied. Change the schema only by
adding a migration at the end.
"""

from __future__ import annotations

import sqlite_utils

from doms.db import Migrations, run_script

MIGRATIONS = Migrations()
migration = MIGRATIONS.register


@migration
def m001_initial(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        CREATE TABLE operators (
            badge TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('packer', 'lead', 'inspector')),
            pin_hash TEXT,             -- pbkdf2 'salt$hash' hex, NULL when no PIN
            active INTEGER NOT NULL DEFAULT 1
        );
        CREATE TABLE skus (
            sku TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            gtin TEXT,                 -- GTIN-14, zero padded
            weight_g REAL NOT NULL,
            length_mm INTEGER NOT NULL,
            width_mm INTEGER NOT NULL,
            height_mm INTEGER NOT NULL,
            tracking TEXT NOT NULL DEFAULT 'none'
                CHECK (tracking IN ('none', 'lot', 'lot_expiry', 'serial')),
            qty_keyable INTEGER NOT NULL DEFAULT 0
        );
        -- Every code that identifies a SKU: its GTIN(s) as GTIN-14, case GTINs with the
        -- units they hold, and the SKU's own label barcode.
        CREATE TABLE barcodes (
            code TEXT PRIMARY KEY,
            sku TEXT NOT NULL REFERENCES skus(sku),
            units INTEGER NOT NULL DEFAULT 1,
            kind TEXT NOT NULL CHECK (kind IN ('gtin', 'sku'))
        );
        CREATE INDEX barcodes_sku ON barcodes(sku);
        CREATE TABLE cartons (
            code TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            length_mm INTEGER NOT NULL,
            width_mm INTEGER NOT NULL,
            height_mm INTEGER NOT NULL,
            tare_g REAL NOT NULL,
            max_weight_g REAL NOT NULL
        );
        CREATE TABLE orders (
            order_id TEXT PRIMARY KEY,
            order_ref TEXT NOT NULL,   -- the sales channel's number, printed on the slip
            channel TEXT NOT NULL DEFAULT 'web',
            tote TEXT,
            pick_list TEXT,
            ship_by TEXT NOT NULL,     -- ISO 8601 UTC
            priority INTEGER NOT NULL DEFAULT 0,   -- higher first among equal ship-by
            status TEXT NOT NULL DEFAULT 'assigned'
                CHECK (status IN ('assigned', 'packing', 'on_hold', 'packed', 'cancelled')),
            hold_reason TEXT,
            ship_to TEXT NOT NULL,     -- JSON address
            carrier TEXT NOT NULL,
            service TEXT NOT NULL,
            assigned_at TEXT NOT NULL,
            packed_at TEXT
        );
        CREATE INDEX orders_queue ON orders(status, ship_by, priority);
        CREATE INDEX orders_tote ON orders(tote);
        CREATE INDEX orders_pick_list ON orders(pick_list);
        CREATE INDEX orders_ref ON orders(order_ref);
        CREATE TABLE order_lines (
            line_id INTEGER PRIMARY KEY,
            order_id TEXT NOT NULL REFERENCES orders(order_id),
            line_no INTEGER NOT NULL,
            sku TEXT NOT NULL REFERENCES skus(sku),
            qty INTEGER NOT NULL CHECK (qty > 0),
            qty_short INTEGER NOT NULL DEFAULT 0,
            short_reason TEXT,
            UNIQUE (order_id, line_no)
        );
        CREATE TABLE packages (
            package_id INTEGER PRIMARY KEY,
            order_id TEXT NOT NULL REFERENCES orders(order_id),
            package_no INTEGER NOT NULL,
            carton_code TEXT REFERENCES cartons(code),
            status TEXT NOT NULL DEFAULT 'open'
                CHECK (status IN ('open', 'weighed', 'labelled', 'void')),
            expected_g REAL,
            weight_g REAL,
            weight_ok INTEGER,
            override_by TEXT,
            sscc TEXT UNIQUE,
            tracking_number TEXT UNIQUE,
            UNIQUE (order_id, package_no)
        );
        -- One row per confirmed scan (or keyed quantity); undo marks it, never deletes.
        CREATE TABLE scans (
            scan_id INTEGER PRIMARY KEY,
            order_id TEXT NOT NULL REFERENCES orders(order_id),
            line_id INTEGER NOT NULL REFERENCES order_lines(line_id),
            package_id INTEGER NOT NULL REFERENCES packages(package_id),
            qty INTEGER NOT NULL CHECK (qty > 0),
            raw TEXT NOT NULL,
            lot TEXT,
            expiry TEXT,
            serial TEXT,
            operator TEXT NOT NULL,
            at TEXT NOT NULL,
            undone INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX scans_order ON scans(order_id, undone);
        CREATE TABLE print_jobs (
            job_id INTEGER PRIMARY KEY,
            printer TEXT NOT NULL CHECK (printer IN ('label', 'slip')),
            kind TEXT NOT NULL,
            order_id TEXT,
            package_id INTEGER,
            payload BLOB NOT NULL,
            status TEXT NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'sending', 'printed', 'uncertain', 'cancelled')),
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX print_jobs_queue ON print_jobs(printer, status, job_id);
        -- Transactional outbox: written in the same transaction as the change it records.
        -- (station_id, seq) is the event's global identity; sync drains by seq.
        CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            event_id TEXT NOT NULL UNIQUE,
            station_id TEXT NOT NULL,
            type TEXT NOT NULL,
            payload TEXT NOT NULL,
            at TEXT NOT NULL,
            delivered_at TEXT
        );
        CREATE INDEX outbox_pending ON outbox(delivered_at, seq);
        -- Monotonic counters (SSCC serial, tracking reference), bumped inside the
        -- transaction that uses the number, so a crash can never hand one out twice.
        CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
        """,
    )


@migration
def m002_sync(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        -- High-water mark of each hub stream applied here (PROTOCOL.md, "Hub -> station").
        CREATE TABLE sync_marks (
            stream TEXT PRIMARY KEY CHECK (stream IN ('site', 'station')),
            seq INTEGER NOT NULL DEFAULT 0
        );
        INSERT INTO sync_marks (stream, seq) VALUES ('site', 0), ('station', 0);
        -- Small durable facts of the sync client: bd_seq, last_ack_at, last_hub_contact_at.
        CREATE TABLE sync_state (key TEXT PRIMARY KEY, value TEXT);
        -- What a receiver refused (undecodable, wrong version or topic, foreign station,
        -- a change it cannot apply), kept for a person to look at.
        CREATE TABLE quarantine (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            topic TEXT NOT NULL,
            reason TEXT NOT NULL,
            payload BLOB
        );
        -- Stock levels as the hub last sent them (the ledger lives at the hub). No foreign
        -- key: a level may arrive before its SKU.
        CREATE TABLE stock (
            sku TEXT PRIMARY KEY,
            on_hand INTEGER NOT NULL,
            available INTEGER NOT NULL,
            at TEXT
        );
        """,
    )


@migration
def m003_photos(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        -- Inspectors' photos. The picture is a file named by its SHA-256 under photos/
        -- beside this database (station/photos.py); the same picture is stored once.
        CREATE TABLE photos (
            sha256 TEXT PRIMARY KEY,
            taken_at TEXT NOT NULL,    -- ISO 8601 UTC, from the camera
            operator TEXT NOT NULL,
            subject TEXT NOT NULL,     -- what it shows: 'receipt/RCV-1001', 'line/42' ...
            note TEXT NOT NULL DEFAULT '',
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            size INTEGER NOT NULL,     -- bytes of the JPEG
            stored_at TEXT NOT NULL
        );
        CREATE INDEX photos_subject ON photos(subject, taken_at);
        """,
    )


@migration
def m004_print_targets(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        -- Printers this station can print on: its own label and slip printers and any
        -- other printer a lead may move jobs to (another station's, a spare). Rewritten
        -- from the configuration at start-up; the queue refuses a move to a printer not
        -- listed here, or of the other medium.
        CREATE TABLE printers (
            name TEXT PRIMARY KEY,
            media TEXT NOT NULL CHECK (media IN ('label', 'slip')),
            url TEXT NOT NULL DEFAULT ''
        );
        INSERT INTO printers (name, media) VALUES ('label', 'label'), ('slip', 'slip');
        -- print_jobs without the CHECK tying printer to 'label'/'slip' (SQLite cannot drop
        -- a CHECK: rebuild). media says what the payload is (ZPL or a slip document);
        -- retry_at (unix seconds) is when a job that failed may be tried again.
        CREATE TABLE print_jobs_new (
            job_id INTEGER PRIMARY KEY,
            printer TEXT NOT NULL,
            media TEXT NOT NULL CHECK (media IN ('label', 'slip')),
            kind TEXT NOT NULL,
            order_id TEXT,
            package_id INTEGER,
            payload BLOB NOT NULL,
            status TEXT NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'sending', 'printed', 'uncertain', 'cancelled')),
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            retry_at REAL
        );
        INSERT INTO print_jobs_new (job_id, printer, media, kind, order_id, package_id, payload,
            status, attempts, last_error, created_at, updated_at)
        SELECT job_id, printer, printer, kind, order_id, package_id, payload, status, attempts,
            last_error, created_at, updated_at FROM print_jobs;
        DROP TABLE print_jobs;
        ALTER TABLE print_jobs_new RENAME TO print_jobs;
        CREATE INDEX print_jobs_queue ON print_jobs(printer, status, job_id);
        """,
    )


@migration
def m005_photo_uploads(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        -- Set when the hub acknowledged the whole photo, checked against its SHA-256
        -- (sync/station_photos.py). upload_error: this station cannot send it (its file
        -- is missing or no longer matches its hash); it is not tried again.
        ALTER TABLE photos ADD COLUMN uploaded_at TEXT;
        ALTER TABLE photos ADD COLUMN upload_error TEXT;
        CREATE INDEX photos_to_upload ON photos(stored_at) WHERE uploaded_at IS NULL;
        """,
    )


@migration
def m006_receipts(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        -- Receiving at the dock (station/receiving.py). A receipt stays open, its counts
        -- on disk scan by scan, until the inspector closes it; closing writes the one
        -- goods_received event (event_seq) in the same transaction. At most one is open.
        CREATE TABLE receipts (
            receipt_id INTEGER PRIMARY KEY,
            ref TEXT NOT NULL,         -- the receipt, PO or ASN reference scanned
            operator TEXT NOT NULL,    -- who opened it
            opened_at TEXT NOT NULL,
            closed_at TEXT,
            event_seq INTEGER          -- outbox seq of its goods_received
        );
        CREATE UNIQUE INDEX receipts_one_open ON receipts((closed_at IS NULL))
            WHERE closed_at IS NULL;
        -- One row per count (a scan, a keyed quantity) or damage note; undo marks a count,
        -- never deletes it.
        CREATE TABLE receipt_counts (
            count_id INTEGER PRIMARY KEY,
            receipt_id INTEGER NOT NULL REFERENCES receipts(receipt_id),
            sku TEXT NOT NULL,
            qty_received INTEGER NOT NULL DEFAULT 0 CHECK (qty_received >= 0),
            qty_damaged INTEGER NOT NULL DEFAULT 0 CHECK (qty_damaged >= 0),
            raw TEXT,
            operator TEXT NOT NULL,
            at TEXT NOT NULL,
            undone_at TEXT
        );
        CREATE INDEX receipt_counts_receipt ON receipt_counts(receipt_id, sku);
        """,
    )


@migration
def m007_return_receipts(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        -- A customer return received at the dock is a receipt of that order: its counts
        -- are checked against what the order shipped and closing writes goods_returned.
        ALTER TABLE receipts ADD COLUMN is_return INTEGER NOT NULL DEFAULT 0;
        -- The returned order when the station holds it; NULL: a PO receipt, or a return of
        -- an order packed elsewhere, named by its reference (ref).
        ALTER TABLE receipts ADD COLUMN order_id TEXT;
        """,
    )


def pending(db: sqlite_utils.Database) -> list[str]:
    """Names of the migrations not yet applied, in order."""
    return MIGRATIONS.pending(db)


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply every pending migration, each in its own transaction; return their names."""
    return MIGRATIONS.migrate(db)
