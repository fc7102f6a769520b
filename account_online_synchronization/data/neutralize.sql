-- A neutralized copy of a database (test, staging) must never talk to the banks.
UPDATE account_online_link
   SET auto_sync = FALSE,
       state = 'disconnected';
