{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        dist='van_id',
        sort=['van_id'],
        meta={'built_at_column': '_built_at'},
        pre_hook=[
            "{{ forget_applied_assignments() }}",
            "{{ forget_rewritten_first_touches() }}",
            "{{ forget_aged_out_assignments() }}",
        ],
    )
}}

{#-
    Incremental and ledger-aware (macros/assignments_upkeep.sql): a night reads only the first
    touches written since the mart's last build, less the VAN IDs the ledger has as done; its
    pre-hooks first delete the rows now applied, the rows of the people it writes again and
    the aged-out ones. Rows it leaves stay owed: an older person whose attempt failed (a 404,
    say) is retried every night until it is applied. A changed seed `source_code_map` or var
    needs `--full-refresh`.
-#}

{%- set lookback_days = var('source_code_lookback_days') %}

with

first_touches as (

    select * from {{ ref('int_people_first_touch') }}
    {%- if is_incremental() %}
    where _built_at > {{ assignments_watermark() }}
    {%- endif %}

),

source_code_map as (

    select * from {{ ref('source_code_map') }}

),

sync_ledger as (

    select * from {{ source('sync', 'van_sync_ledger') }}

),

form_codes as (

    select
        match_value as form_id,
        source_code_id
    from source_code_map
    where match_type = 'form_id'

),

utm_codes as (

    select
        lower(match_value) as utm_source,
        source_code_id
    from source_code_map
    where match_type = 'utm_source'

),

default_code as (

    select source_code_id
    from source_code_map
    where match_type = 'default'

),

done as (

    -- VAN IDs that already received a code: never send a second one
    select distinct sync_ledger.van_id
    from sync_ledger
    where
        sync_ledger.status in ({{ sql_string_list(var('ledger_done_statuses')) }})
        {%- if is_incremental() %}
        -- tonight's people only: the ledger holds everyone ever applied
        and sync_ledger.van_id in (select first_touches.van_id from first_touches)
        {%- endif %}

),

coded as (

    -- precedence: exact form_id, then utm_source, then the default row
    select
        first_touches.van_id,
        coalesce(
            form_codes.source_code_id,
            utm_codes.source_code_id,
            default_code.source_code_id
        ) as source_code_id,
        case
            when form_codes.source_code_id is not null then 'form_id'
            when utm_codes.source_code_id is not null then 'utm_source'
            when default_code.source_code_id is not null then 'default'
        end as matched_on,
        first_touches.channel as first_touch_channel,
        first_touches.touch_id as first_touch_id,
        first_touches.form_id as first_touch_form_id,
        first_touches.utm_source as first_touch_utm_source,
        first_touches.touched_at as first_touched_at,
        first_touches._built_at as _first_touch_built_at,
        {{ run_timestamp() }} as _built_at
    from first_touches
    left join form_codes
        on first_touches.form_id = form_codes.form_id
    left join utm_codes
        on first_touches.utm_source = utm_codes.utm_source
    left join default_code
        on 1 = 1

),

assignments as (

    select coded.*
    from coded
    left join done
        on coded.van_id = done.van_id
    where
        done.van_id is null
        and coded.source_code_id is not null
        {%- if lookback_days is not none %}
        and coded.first_touched_at >= {{ days_ago(lookback_days) }}
        {%- endif %}

)

select * from assignments
