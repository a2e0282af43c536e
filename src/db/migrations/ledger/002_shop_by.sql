-- Which trusted fact made a mail its shop's: 'auth' (AUTH user), 'sender' (envelope sender) or
-- 'client' (shops[].clients). NULL: no shop (a header From alone never makes one).
ALTER TABLE messages ADD COLUMN shop_by TEXT;
