{{ config(unique_key='date_key', tags=['static'], indexes=[{'columns': ['date']}]) }}

-- Every day from 1970 to 2100: any local date a play can have, even from a device whose clock was
-- reset (exports start in 2008). Built once; incremental runs add nothing.
with

days as (
    select generate_series('1970-01-01'::date, '2100-12-31'::date, interval '1 day')::date as date
    {% if is_incremental() %}
    where false
    {% endif %}
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
