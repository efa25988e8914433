"""The dashboard (大屏): pre-aggregated counts and the full-screen page that draws them."""
