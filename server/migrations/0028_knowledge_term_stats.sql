-- Full-text ranking by BM25 (modules/knowledge/fulltext.ts) needs, per knowledge base, how
-- many chunks contain each word (its document frequency), how many chunks there are and
-- their total length. Triggers on chunks keep them, so every path that adds, changes or
-- removes chunks (ingestion, re-ingestion, deleting a document, a base or a workspace)
-- leaves them exact. A chunk's length is its number of distinct words (length(tsv)).
create table knowledge_term_stats (
  knowledge_base_id uuid not null references knowledge_bases (id) on delete cascade,
  lexeme text not null, -- '' is the base's totals row: chunks = its chunk count, words = their total length;
                        -- a word's row: chunks = how many contain it, words = its occurrences
  chunks integer not null,
  words bigint not null,
  primary key (knowledge_base_id, lexeme)
);

-- Rows are taken in key order, the totals row ('') first: concurrent ingestions into one
-- base queue on it instead of deadlocking on each other's words.
create function knowledge_term_stats_add() returns trigger language plpgsql as $$
begin
  insert into knowledge_term_stats as s (knowledge_base_id, lexeme, chunks, words)
  select knowledge_base_id, lexeme, sum(chunks)::integer, sum(words) from (
    select c.knowledge_base_id, '' as lexeme, 1 as chunks, length(c.tsv) as words from inserted c
    union all
    select c.knowledge_base_id, u.lexeme, 1, coalesce(array_length(u.positions, 1), 1) from inserted c cross join lateral unnest(c.tsv) u
  ) t
  group by knowledge_base_id, lexeme
  order by knowledge_base_id, lexeme
  on conflict (knowledge_base_id, lexeme) do update set chunks = s.chunks + excluded.chunks, words = s.words + excluded.words;
  return null;
end $$;

create function knowledge_term_stats_remove() returns trigger language plpgsql as $$
begin
  -- The totals rows first, as the insert takes them: see above.
  perform 1 from knowledge_term_stats where lexeme = '' and knowledge_base_id in (select knowledge_base_id from deleted) order by knowledge_base_id for update;
  -- An update, never an insert: when the base itself is being deleted its rows are gone already.
  update knowledge_term_stats s set chunks = s.chunks - t.chunks, words = s.words - t.words
  from (
    select knowledge_base_id, lexeme, sum(chunks)::integer as chunks, sum(words) as words from (
      select c.knowledge_base_id, '' as lexeme, 1 as chunks, length(c.tsv) as words from deleted c
      union all
      select c.knowledge_base_id, u.lexeme, 1, coalesce(array_length(u.positions, 1), 1) from deleted c cross join lateral unnest(c.tsv) u
    ) d
    group by knowledge_base_id, lexeme
    order by knowledge_base_id, lexeme
  ) t
  where s.knowledge_base_id = t.knowledge_base_id and s.lexeme = t.lexeme;
  return null;
end $$;

create trigger chunks_term_stats_insert after insert on chunks referencing new table as inserted for each statement execute function knowledge_term_stats_add();
create trigger chunks_term_stats_delete after delete on chunks referencing old table as deleted for each statement execute function knowledge_term_stats_remove();
create trigger chunks_term_stats_update_old after update on chunks referencing old table as deleted for each statement execute function knowledge_term_stats_remove();
create trigger chunks_term_stats_update_new after update on chunks referencing new table as inserted for each statement execute function knowledge_term_stats_add();

-- The chunks already there.
insert into knowledge_term_stats (knowledge_base_id, lexeme, chunks, words)
select knowledge_base_id, lexeme, sum(chunks)::integer, sum(words) from (
  select c.knowledge_base_id, '' as lexeme, 1 as chunks, length(c.tsv) as words from chunks c
  union all
  select c.knowledge_base_id, u.lexeme, 1, coalesce(array_length(u.positions, 1), 1) from chunks c cross join lateral unnest(c.tsv) u
) t
group by knowledge_base_id, lexeme;
