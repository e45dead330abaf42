-- Sign-in throttling counts attempts before the password is checked, in one
-- statement; the id of the attempt that was counted last tells a caller
-- whether its own attempt got through or was refused while blocked.
ALTER TABLE sign_in_throttle ADD COLUMN last_attempt TEXT;
