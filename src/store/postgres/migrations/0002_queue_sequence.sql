-- Queue items numbered from one sequence instead of under their queue row's lock.
-- The lock made every accept transaction touching a queue wait for the previous one's
-- commit (its flush to disk), and made settles checking the row's lease wait on
-- accepts: a busy queue committed one transaction at a time.
--
-- FIFO still holds: a message is numbered before its transaction commits, and it is
-- acknowledged after; a message sent after that acknowledgement draws a larger
-- number. Two messages in flight together have no order of their own, and whichever
-- commits first may be delivered first (the dispatcher always takes the smallest
-- number present).
CREATE SEQUENCE queue_item_seq;
SELECT setval('queue_item_seq', greatest(
    (SELECT coalesce(max(next_seq), 1) FROM queues),
    (SELECT coalesce(max(seq), 0) + 1 FROM queue_items),
    (SELECT coalesce(max(seq), 0) + 1 FROM quarantine)));
ALTER TABLE queues DROP COLUMN next_seq;
