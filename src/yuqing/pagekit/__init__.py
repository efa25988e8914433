"""The page kit every domain's views use: templates and their filters, CSRF checks, refusals
and cookie rules. It sits just above core, below every domain; the app assembly in
`yuqing.web` sits on top."""
