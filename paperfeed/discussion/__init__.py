"""
The discussion on paper pages: comments and one level of replies
(`comments`), their Markdown rendered and sanitised (`render`), and reports
and hiding (`moderation`).  Storage only: the pages and forms are in
`paperfeed.web.discussion_pages`.
"""
