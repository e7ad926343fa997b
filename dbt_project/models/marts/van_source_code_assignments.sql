{{
    config(
        dist='van_id',
        sort=['van_id'],
    )
}}

{%- set lookback_days = var('source_code_lookback_days') %}

with

first_touches as (

    select * from {{ ref('int_people_first_touch') }}

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
    select distinct van_id
    from sync_ledger
    where status in ({{ sql_string_list(var('ledger_done_statuses')) }})

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
        first_touches.touched_at as first_touched_at
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
