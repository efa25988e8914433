"""Reports (报告): the daily digest, weekly and monthly reports and the special report."""
