"""The institution's own voice (编辑发布): submissions, 三审三校 review, publishing."""
