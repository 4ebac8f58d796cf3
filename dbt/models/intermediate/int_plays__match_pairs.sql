{{ config(unlogged=true, post_hook=['{{ mark_match_rows() }}']) }}

{#-
  The candidate pairs of int_plays__deduplicated's tiers 4+ (macros/match_rows.sql: match_pairs), from
  the match rows int_plays__matchable and int_plays__match_probes stored, for a whole build of it. In
  a statement of its own, PostgreSQL joins the two on every core (a parallel hash join, on their
  statistics); inside the dedupe's one statement it could use one. Empty when they are (the dedupe
  builds incrementally, or no row of tiers 4+ exists).
-#}

{%- set probe_rows = {} %}
{%- for key in match_identity_columns() %}
{%- do probe_rows.update({key: 'select * from ' ~ ref('int_plays__match_probes') ~ ' where ' ~ key ~ ' is not null'}) %}
{%- endfor %}

with

{{ match_pairs(ref('int_plays__matchable'), probe_rows, fence=false) }}

select * from pairs
