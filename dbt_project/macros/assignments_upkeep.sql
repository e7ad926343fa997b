{#-
    Upkeep of the incremental mart `van_source_code_assignments` ("what the sync should apply
    and has not"). A night inserts the rows of the people whose first touch was (re)written
    since the mart's last build; before that, these pre-hooks delete what is no longer owed:

    1. the stored rows of those same people (their first touch, so their code, may have
       changed; the model writes them again if they are still owed one);
    2. every VAN ID the sync ledger now has as done (`var('ledger_done_statuses')`): applied
       since the last build (a failed or pending attempt leaves the row, so it is retried);
    3. with `var('source_code_lookback_days')`, the rows whose first touch has aged out.

    The watermark is the newest `_built_at` of int_people_first_touch the mart has stored
    (`_first_touch_built_at`), read when the model compiles, before these hooks run. All of
    it only on an incremental run; a full refresh rebuilds from every first touch.
    Separate DELETE ... USING statements: one OR of two IN subqueries is planned as a
    per-row subplan in Postgres once the ledger outgrows work_mem. No DELETE ... RETURNING,
    ON CONFLICT or MERGE: Redshift.
-#}

{#- The newest int_people_first_touch build the mart has read; a day long past when it has
    none, or an older mart without the column (on_schema_change adds it: all rows are redone).
    Where no query can run (parsing, `--no-introspect`, unit tests), high_water_mark's subquery. -#}
{% macro assignments_watermark() -%}
    {%- set empty = "cast('1900-01-01 00:00:00+00' as timestamptz)" -%}
    {%- if execute and is_incremental() and not flags.INTROSPECT -%}
        {{ high_water_mark(this, '_first_touch_built_at') }}
    {%- elif execute and is_incremental() -%}
        {%- set names = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
        {%- if '_first_touch_built_at' not in names -%}
            {{ empty }}
        {%- else -%}
            {{ high_water_mark(this, '_first_touch_built_at') }}
        {%- endif -%}
    {%- else -%}
        {{ empty }}
    {%- endif -%}
{%- endmacro %}


{% macro forget_rewritten_first_touches() -%}
    {%- if execute and is_incremental() -%}
        delete from {{ this }}
        using {{ ref('int_people_first_touch') }} as rewritten
        where
            {{ this }}.van_id = rewritten.van_id
            and rewritten._built_at > {{ assignments_watermark() }}
    {%- endif -%}
{%- endmacro %}


{#- Most nights the sync applied nearly every stored row, so on Postgres the rows still owed are
    kept aside, the table is emptied and they are put back: measured on night 2 of `make bench`
    (all 523,296 rows applied), a DELETE joined with the ledger took 0.55 s and left every row
    dead for the night's later scans. When at least half the rows are still owed (the sync was
    down), or another session holds a lock on the mart (TRUNCATE waits for every reader), it is
    the plain DELETE. Both are inside the model's transaction: a failure leaves the mart as it was.
    Redshift: the DELETE (its TRUNCATE commits the transaction). -#}
{% macro forget_applied_assignments() -%}
    {%- if execute and is_incremental() -%}
        {%- set done_statuses = sql_string_list(var('ledger_done_statuses')) -%}
        {%- set delete_applied -%}
        delete from {{ this }}
        using {{ source('sync', 'van_sync_ledger') }} as ledger
        where
            {{ this }}.van_id = ledger.van_id
            and ledger.status in ({{ done_statuses }})
        {%- endset -%}
        {%- if target.type == 'postgres' -%}
        do $forget_applied$
        declare
            kept bigint;
            stored bigint;
        begin
            drop table if exists assignments__still_owed;
            create temporary table assignments__still_owed on commit drop as
            select stored_rows.*
            from {{ this }} as stored_rows
            where not exists (
                select 1 from {{ source('sync', 'van_sync_ledger') }} as ledger
                where ledger.van_id = stored_rows.van_id and ledger.status in ({{ done_statuses }})
            );
            get diagnostics kept = row_count;
            select count(*) into stored from {{ this }};
            if kept = stored then
                return;
            end if;
            if kept * 2 <= stored then
                begin
                    lock table {{ this }} in access exclusive mode nowait;
                    truncate {{ this }};
                    insert into {{ this }} select * from assignments__still_owed;
                    return;
                exception when lock_not_available then
                    null;  -- a reader holds the mart: delete instead
                end;
            end if;
            {{ delete_applied }};
        end
        $forget_applied$
        {%- else -%}
        {{ delete_applied }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{% macro forget_aged_out_assignments() -%}
    {%- set lookback_days = var('source_code_lookback_days') -%}
    {%- if execute and is_incremental() and lookback_days is not none -%}
        delete from {{ this }}
        where first_touched_at < {{ days_ago(lookback_days) }}
    {%- endif -%}
{%- endmacro %}
