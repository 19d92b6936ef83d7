-- Approximate nearest-neighbour search (HNSW) for vector search. An HNSW index needs one
-- dimension and chunk_embeddings.embedding holds vectors of any model, so there is one
-- partial expression index per common embedding size; ChunkEmbeddings.nearest casts to
-- vector(D) with `vector_dims(embedding) = D`, which is what lets the planner use it.
-- Vectors of other sizes are searched exactly (the knowledge_base_id, model index).
-- Where pgvector was added after migrating (the `do` block of 0013 run by hand), run this
-- block too.
do $$
declare
  dims integer;
begin
  if to_regclass('chunk_embeddings') is not null then
    foreach dims in array array[384, 512, 768, 1024, 1536] loop
      execute format(
        'create index if not exists chunk_embeddings_hnsw_%s on chunk_embeddings using hnsw ((embedding::vector(%s)) vector_cosine_ops) where vector_dims(embedding) = %s',
        dims, dims, dims);
    end loop;
  end if;
end $$;
