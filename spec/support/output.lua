-- busted output handler for Ember: one character per test, then the failures
-- with their messages, then the closing line `N passed, N failed, N skipped`
-- (busted's errors count as failures; pending tests count as skipped).
local pretty = require 'pl.pretty'

return function(options)
  local busted = require 'busted'
  local handler = require 'busted.outputHandlers.base'()
  local column = 0

  local function message_of(f)
    if type(f.message) == 'string' then return f.message end
    if f.message == nil then return 'nil error' end
    return pretty.write(f.message)
  end

  local function describe_failure(f, kind)
    local where = f.element.trace and f.element.trace.short_src
      and (f.element.trace.short_src .. ':' .. f.element.trace.currentline) or '?'
    local s = kind .. ' ' .. where .. '\n  ' .. f.name .. '\n  ' .. message_of(f):gsub('\n', '\n  ')
    if options.verbose and f.trace and f.trace.traceback then
      s = s .. '\n' .. f.trace.traceback
    end
    return s
  end

  handler.testEnd = function(element, parent, status)
    local c = status == 'success' and '.' or status == 'pending' and 's'
      or status == 'failure' and 'F' or 'E'
    io.write(c)
    column = column + 1
    if column == 72 then io.write('\n'); column = 0 end
    io.flush()
    return nil, true
  end

  handler.suiteEnd = function()
    io.write('\n\n')
    for _, f in ipairs(handler.failures) do io.write(describe_failure(f, 'FAIL'), '\n\n') end
    for _, f in ipairs(handler.errors) do io.write(describe_failure(f, 'ERROR'), '\n\n') end
    local failed = handler.failuresCount + handler.errorsCount
    io.write(string.format('%d passed, %d failed, %d skipped\n',
      handler.successesCount, failed, handler.pendingsCount))
    io.flush()
    return nil, true
  end

  busted.subscribe({ 'test', 'end' }, handler.testEnd, { predicate = handler.cancelOnPending })
  busted.subscribe({ 'suite', 'end' }, handler.suiteEnd)
  return handler
end
