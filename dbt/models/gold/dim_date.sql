{{ config(indexes=[{'columns': ['date_key'], 'unique': True}, {'columns': ['date']}]) }}

-- Every day from Spotify's launch to a year ahead; local dates of plays fall in this range.
with

days as (
    select generate_series('2006-01-01'::date, (current_date + 366)::date, interval '1 day')::date as date
),

final as (
    select
        (extract(year from date) * 10000 + extract(month from date) * 100 + extract(day from date))::int
            as date_key,
        date,
        extract(year from date)::int as year,
        extract(quarter from date)::int as quarter,
        extract(month from date)::int as month,
        to_char(date, 'FMMonth') as month_name,
        date_trunc('month', date)::date as month_start,
        extract(isoyear from date)::int as iso_year,
        extract(week from date)::int as iso_week,
        date_trunc('week', date)::date as week_start,
        extract(isodow from date)::int as day_of_week,
        to_char(date, 'FMDay') as day_name,
        extract(isodow from date) >= 6 as is_weekend
    from days
)

select * from final
