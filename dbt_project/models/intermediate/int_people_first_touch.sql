{{
    config(
        unique_key='van_id',
        dist='van_id',
        sort=['van_id'],
    )
}}

{#-
    Incremental: a night only reads touches landed after the newest `_loaded_at` already here,
    merges them with the stored first touch of the same VAN IDs, and replaces those rows
    (delete+insert on van_id). `_loaded_at` is the newest load among a person's touches seen
    so far, so its maximum is the watermark.
-#}

with

signups as (

    select * from {{ ref('stg_signups') }}

),

attendances as (

    select * from {{ ref('stg_event_attendances') }}

),

signup_emails_ranked as (

    select
        email,
        van_id,
        _loaded_at,
        row_number() over (
            partition by email
            order by submitted_at, submission_id
        ) as email_rank
    from signups
    where email is not null and van_id is not null

),

email_van_ids as (

    -- an attendee without a VAN ID takes the one of the earliest signup with the same email
    select
        email,
        van_id,
        _loaded_at
    from signup_emails_ranked
    where email_rank = 1

),

form_touches as (

    select
        van_id,
        'form' as channel,
        submission_id as touch_id,
        form_id,
        cast(null as bigint) as event_id,
        utm_source,
        submitted_at as touched_at,
        _loaded_at
    from signups
    where van_id is not null

),

event_touches as (

    select
        coalesce(attendances.van_id, email_van_ids.van_id) as van_id,
        'event' as channel,
        cast(attendances.attendance_id as varchar) as touch_id,
        cast(null as varchar) as form_id,
        attendances.event_id,
        attendances.utm_source,
        attendances.attended_at as touched_at,
        -- a match made by a newly landed signup makes an old attendance new
        greatest(
            attendances._loaded_at,
            coalesce(email_van_ids._loaded_at, attendances._loaded_at)
        ) as _loaded_at
    from attendances
    left join email_van_ids
        on attendances.van_id is null and attendances.email = email_van_ids.email
    where
        attendances.attended_at is not null
        and coalesce(attendances.van_id, email_van_ids.van_id) is not null

),

touches as (

    select * from form_touches
    union all
    select * from event_touches

),

new_touches as (

    select * from touches
    {%- if is_incremental() %}
    where
        touches._loaded_at > (
            select coalesce(max(already_loaded._loaded_at), cast('1900-01-01' as timestamptz))
            from {{ this }} as already_loaded
        )
    {%- endif %}

),

candidates as (

    select * from new_touches
    {%- if is_incremental() %}
    union all
    select
        stored_touches.van_id,
        stored_touches.channel,
        stored_touches.touch_id,
        stored_touches.form_id,
        stored_touches.event_id,
        stored_touches.utm_source,
        stored_touches.touched_at,
        stored_touches._loaded_at
    from {{ this }} as stored_touches
    where stored_touches.van_id in (select new_touches.van_id from new_touches)
    {%- endif %}

),

ranked as (

    select
        candidates.*,
        row_number() over (
            partition by van_id
            order by
                touched_at,
                case when channel = 'form' then 0 else 1 end,
                touch_id
        ) as touch_rank,
        max(_loaded_at) over (partition by van_id) as latest_loaded_at
    from candidates

),

first_touches as (

    select
        van_id,
        channel,
        touch_id,
        form_id,
        event_id,
        utm_source,
        touched_at,
        latest_loaded_at as _loaded_at
    from ranked
    where touch_rank = 1

)

select * from first_touches
