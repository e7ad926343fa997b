with

source as (

    select * from {{ source('raw', 'event_attendances') }}

),

renamed as (

    select
        -- ids
        cast(attendance_id as bigint) as attendance_id,
        cast(event_id as bigint) as event_id,
        cast(van_id as bigint) as van_id,

        -- event
        {{ clean_text('event_title') }} as event_title,

        -- person
        {{ clean_text('first_name') }} as first_name,
        {{ clean_text('last_name') }} as last_name,
        {{ normalize_email('email') }} as email,
        {{ normalize_phone('phone') }} as phone,
        {{ normalize_zip('zip') }} as zip,

        -- attribution
        lower({{ clean_text('utm_source') }}) as utm_source,

        -- timestamps
        cast(timeslot_start as timestamptz) as timeslot_start,
        cast(attended_at as timestamptz) as attended_at,

        -- load metadata
        _loaded_at,
        _load_id,
        _source_page,
        _partition

    from source

),

ranked as (

    -- an attendance seen on several pages or loads: the API's latest version wins
    select
        renamed.*,
        row_number() over (
            partition by attendance_id
            order by _loaded_at desc, _source_page desc
        ) as version_rank
    from renamed
    where attendance_id is not null

),

deduplicated as (

    select
        attendance_id,
        event_id,
        van_id,
        event_title,
        first_name,
        last_name,
        email,
        phone,
        zip,
        utm_source,
        timeslot_start,
        attended_at,
        _loaded_at,
        _load_id,
        _source_page,
        _partition
    from ranked
    where version_rank = 1

)

select * from deduplicated
