-- table.move over 1e15 empty slots: a C loop the instruction limit never sees
table.move({}, 1, 1e15, 2)
