-- A transaction with an id: committed with synchronous_commit on, it waits until the WAL is flushed up to its
-- commit record, and with it every earlier commit of the session made with synchronous_commit off.
SELECT txid_current()
