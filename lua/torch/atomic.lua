-- torch.atomic: writes a file all at once or not at all. write(f) fills a
-- temporary file in the same directory as path; it is flushed to the disk and
-- renamed over path only when complete, so a crash or a full disk mid-write
-- leaves any previous file at path intact.
local C = require 'torch.core'

return function(path, write, what)
  local tmp = string.format('%s.tmp-%s-%x', path, tostring({}):match('0x(%x+)') or '0', os.time())
  local f, err = io.open(tmp, 'wb')
  if not f then error(what .. ': cannot write ' .. path .. ' (' .. err .. ')', 0) end
  local ok, e = pcall(function()
    write(f)
    C._fsync(f)
  end)
  f:close()
  if ok then ok, e = os.rename(tmp, path) end
  if not ok then
    os.remove(tmp)
    error(what .. ': ' .. tostring(e), 0)
  end
end
