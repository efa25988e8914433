"""System settings (系统设置): desk-wide values an administrator sets on the desk."""
