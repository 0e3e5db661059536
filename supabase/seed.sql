-- Local seed data, loaded by `kwq8 stack start` and `kwq8 stack reset` (never by migrate).
select 1;
