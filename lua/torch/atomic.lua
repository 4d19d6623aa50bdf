-- torch.atomic(path, write, what): writes a file all at once or not at all.
-- write(f) fills a temporary file in the same directory as path; it is flushed,
-- fsynced and renamed over path only when complete, then the directory is synced
-- so the rename itself is durable. A crash or a full disk mid-write leaves any
-- previous file at path intact (a killed writer may leave its *.tmp-* file).
-- Errors are raised as "<what>: ..." at the caller of the caller (level 3).
local C = require 'torch.core'

local counter = 0
local function temp_name(path, what)
  for _ = 1, 100 do
    counter = counter + 1
    local tag = (tostring({}):match('0x(%x+)') or '') ..
      string.format('%x%x%x', os.time(), math.random(0, 0x7fffffff), counter)
    local name = path .. '.tmp-' .. tag
    local probe = io.open(name, 'rb')
    if not probe then return name end
    probe:close()
  end
  error(what .. ': cannot find a free temporary name next to ' .. path, 3)
end

local function check(ok, err, msg)
  if not ok then error(msg .. ' (' .. tostring(err) .. ')', 0) end
end

return function(path, write, what)
  local tmp = temp_name(path, what)
  local f, err = io.open(tmp, 'wb')
  if not f then error(('%s: cannot create %s (%s)'):format(what, tmp, err), 3) end
  local ok, msg = pcall(function()
    f:setvbuf('full', 1 << 20)
    write(f)
    local fl, ferr = f:flush()
    check(fl, ferr, 'cannot write ' .. path)
    C._fsync(f)
    local c, cerr = f:close()
    f = nil
    check(c, cerr, 'cannot write ' .. path)
    local r, rerr = os.rename(tmp, path)
    check(r, rerr, 'cannot rename the temporary file over ' .. path)
  end)
  if not ok then
    if f then pcall(f.close, f) end
    os.remove(tmp)
    msg = tostring(msg)
    if msg:sub(1, #what + 2) ~= what .. ': ' then msg = ('%s: writing %s failed: %s'):format(what, path, msg) end
    error(msg, 3)
  end
  local dir = path:match('^(.*)/[^/]*$') or '.'
  local d = io.open(dir == '' and '/' or dir, 'rb')
  if d then
    pcall(C._fsync, d)
    d:close()
  end
end
