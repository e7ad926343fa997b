with

source as (

    select * from {{ source('raw', 'signups') }}

),

renamed as (

    select
        -- ids
        trim(submission_id) as submission_id,
        cast(van_id as bigint) as van_id,
        {{ clean_text('form_id') }} as form_id,

        -- person
        {{ clean_text('first_name') }} as first_name,
        {{ clean_text('last_name') }} as last_name,
        {{ normalize_email('email') }} as email,
        {{ normalize_phone('phone') }} as phone,
        {{ normalize_zip('zip') }} as zip,

        -- attribution
        lower({{ clean_text('utm_source') }}) as utm_source,
        lower({{ clean_text('utm_medium') }}) as utm_medium,
        {{ clean_text('utm_campaign') }} as utm_campaign,

        -- timestamps
        cast(submitted_at as timestamptz) as submitted_at,

        -- load metadata
        _loaded_at,
        _load_id,
        _source_file,
        _source_line,
        _partition

    from source

),

ranked as (

    -- a submission repeated in overlapping exports: the first one submitted (then landed) wins
    select
        renamed.*,
        row_number() over (
            partition by submission_id
            order by submitted_at, _loaded_at, _source_file, _source_line
        ) as submission_rank
    from renamed
    where submission_id is not null

),

deduplicated as (

    select
        submission_id,
        van_id,
        form_id,
        first_name,
        last_name,
        email,
        phone,
        zip,
        utm_source,
        utm_medium,
        utm_campaign,
        submitted_at,
        _loaded_at,
        _load_id,
        _source_file,
        _source_line,
        _partition
    from ranked
    where submission_rank = 1

)

select * from deduplicated
