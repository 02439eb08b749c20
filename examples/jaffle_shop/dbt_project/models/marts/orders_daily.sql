{{ config(materialized='incremental', unique_key='order_date', tags=['daily']) }}
-- One row per day. A daily partition's run passes its window as vars (min_date, max_date).
select order_date, count(*) as orders
from {{ ref('stg_orders') }}
where order_date >= cast('{{ var("min_date", "1900-01-01") }}' as date)
  and order_date < cast('{{ var("max_date", "2999-01-01") }}' as date)
group by order_date
