{{
    config(
        unique_key='van_id',
        dist='van_id',
        sort=['van_id'],
        indexes=[
            {'columns': ['_built_at']},
            {'columns': ['_loaded_at']},
            {'columns': ['van_id']},
        ],
        meta={'built_at_column': '_built_at'},
    )
}}

{#-
    Incremental: a night reads only what can change a first touch, and filters before any
    window so the cost follows the new rows, not the table:
    - signups landed after the watermark (the newest `_loaded_at` already here; it is the
      newest load among a person's touches seen so far),
    - attendances landed after it, and older attendances without a VAN ID whose email a new
      signup now matches,
    - the email -> VAN ID match only for the emails those rows carry (all of each email's
      signups, so the earliest still wins),
    then merges the new touches with the stored first touch of the same VAN IDs and replaces
    those rows (delete+insert on van_id).
    `_built_at`: as in stg_signups, a build's tests of this model check the rows it wrote.
    Indexes (Postgres): the watermark (`_loaded_at`, a full scan of 58 ms at 523k rows) and
    the stored touches of tonight's people and the delete+insert (`van_id`).
-#}

with

{%- if is_incremental() %}

watermark as (

    select coalesce(max(already_loaded._loaded_at), cast('1900-01-01' as timestamptz)) as loaded_at
    from {{ this }} as already_loaded

),

new_signups as (

    select * from {{ ref('stg_signups') }}
    where _loaded_at > (select watermark.loaded_at from watermark)

),

new_signup_emails as (

    select distinct email
    from new_signups
    where email is not null and van_id is not null

),

attendances as (

    select * from {{ ref('stg_event_attendances') }}
    where
        _loaded_at > (select watermark.loaded_at from watermark)
        or (van_id is null and email in (select new_signup_emails.email from new_signup_emails))

),

matched_emails as (

    select new_signup_emails.email from new_signup_emails
    union distinct
    select attendances.email from attendances
    where attendances.van_id is null and attendances.email is not null

),

email_signups as (

    select * from {{ ref('stg_signups') }}
    where email in (select matched_emails.email from matched_emails)

),
{%- else %}

new_signups as (

    select * from {{ ref('stg_signups') }}

),

attendances as (

    select * from {{ ref('stg_event_attendances') }}

),

email_signups as (

    select * from new_signups

),
{%- endif %}

signup_emails_ranked as (

    select
        email,
        van_id,
        _loaded_at,
        row_number() over (
            partition by email
            order by submitted_at, submission_id
        ) as email_rank
    from email_signups
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
    from new_signups
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
    -- an old attendance matched by an old signup changed nothing
    where touches._loaded_at > (select watermark.loaded_at from watermark)
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
        latest_loaded_at as _loaded_at,
        {{ run_timestamp() }} as _built_at
    from ranked
    where touch_rank = 1

)

select * from first_touches
