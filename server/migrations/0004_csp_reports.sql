-- Content-Security-Policy violation reports sent by browsers (report-uri / report-to).
create table csp_reports (
  id uuid primary key,
  document_uri text not null,
  blocked_uri text not null,
  directive text not null,
  source_file text not null,
  line integer,
  disposition text not null,
  user_agent text not null,
  ip text not null,
  created_at timestamptz not null
);
create index csp_reports_created_at on csp_reports (created_at desc);
