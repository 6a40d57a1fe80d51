"""Getting a message out to a citizen: into their conversation, through the channel they used,
with one set of delivery errors that every channel maps its platform's failures onto.
"""
