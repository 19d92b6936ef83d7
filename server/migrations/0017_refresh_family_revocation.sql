-- A refresh is refused while any token of its family is revoked (the claim checks it in the
-- same UPDATE): one index probe per refresh however long the family has rotated.
create index refresh_tokens_revoked_family on refresh_tokens (family_id) where revoked_at is not null;
