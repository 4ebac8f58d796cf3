{{
    config(
        materialized='incremental',
        unique_key='user_id',
        incremental_strategy='delete+insert',
        indexes=[{'columns': ['user_id', 'period', 'period_start', 'rank']}, {'columns': ['track_key']}],
    )
}}

-- Each listener's top music tracks (keys and figures): all time (100), per year (50), per month (25).
{{ top_entities('track_key') }}
