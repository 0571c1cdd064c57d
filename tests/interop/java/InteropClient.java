// A Java peer for thrum's SASL endpoints: Debian's libthrift-java
// TSaslClientTransport, unmodified, calling the Interop service.
//
//   java InteropClient HOST PORT MECH QOP [USER PASSWORD]
//
// Prints "whoami=<what the server saw>" and "echo=ok" after a 70,000-byte
// round trip (one wrapped packet larger than any default buffer), or
// "error=<message>" and exits 1. GSSAPI logs in from the ticket cache named
// by KRB5CCNAME.
import java.nio.ByteBuffer;
import java.security.PrivilegedExceptionAction;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import javax.security.auth.Subject;
import javax.security.auth.callback.Callback;
import javax.security.auth.callback.CallbackHandler;
import javax.security.auth.callback.NameCallback;
import javax.security.auth.callback.PasswordCallback;
import javax.security.auth.login.AppConfigurationEntry;
import javax.security.auth.login.Configuration;
import javax.security.auth.login.LoginContext;
import javax.security.sasl.RealmCallback;
import javax.security.sasl.Sasl;
import org.apache.thrift.protocol.TBinaryProtocol;
import org.apache.thrift.transport.TSaslClientTransport;
import org.apache.thrift.transport.TSocket;
import thrum.interop.Interop;

public class InteropClient {
  public static void main(String[] args) {
    try {
      run(args);
    } catch (Exception e) {
      Throwable cause = e;
      while (cause.getCause() != null && cause.getMessage() == null) cause = cause.getCause();
      System.out.println("error=" + cause.getMessage());
      System.exit(1);
    }
  }

  static void run(String[] args) throws Exception {
    String host = args[0];
    int port = Integer.parseInt(args[1]);
    String mech = args[2];
    String qop = args[3];
    String user = args.length > 4 ? args[4] : null;
    String password = args.length > 5 ? args[5] : null;

    Map<String, String> props = new HashMap<>();
    props.put(Sasl.QOP, qop);
    // The JDK prefers 3des, which Cyrus SASL 2.1.28 on OpenSSL 3 cannot run.
    props.put("com.sun.security.sasl.digest.cipher", "rc4");
    CallbackHandler passwordHandler = callbacks -> {
      for (Callback c : callbacks) {
        if (c instanceof NameCallback) {
          ((NameCallback) c).setName(user);
        } else if (c instanceof PasswordCallback) {
          ((PasswordCallback) c).setPassword(password.toCharArray());
        } else if (c instanceof RealmCallback) {
          RealmCallback realm = (RealmCallback) c;
          realm.setText(realm.getDefaultText());
        }
      }
    };

    PrivilegedExceptionAction<Void> call = () -> {
      TSaslClientTransport transport = new TSaslClientTransport(mech, null, "thrift", "localhost",
          props, mech.equals("GSSAPI") ? null : passwordHandler, new TSocket(host, port));
      transport.open();
      Interop.Client client = new Interop.Client(new TBinaryProtocol(transport));
      System.out.println("whoami=" + client.whoami());
      byte[] big = new byte[70000];
      new Random(7).nextBytes(big);
      ByteBuffer back = client.echo(ByteBuffer.wrap(big));
      byte[] got = new byte[back.remaining()];
      back.get(got);
      System.out.println("echo=" + (Arrays.equals(big, got) ? "ok" : "mismatch"));
      transport.close();
      return null;
    };

    if (!mech.equals("GSSAPI")) {
      call.run();
      return;
    }
    String cache = System.getenv("KRB5CCNAME").replaceFirst("^FILE:", "");
    Configuration kerberos = new Configuration() {
      @Override
      public AppConfigurationEntry[] getAppConfigurationEntry(String name) {
        Map<String, String> options = new HashMap<>();
        options.put("useTicketCache", "true");
        options.put("ticketCache", cache);
        options.put("doNotPrompt", "true");
        return new AppConfigurationEntry[] {new AppConfigurationEntry(
            "com.sun.security.auth.module.Krb5LoginModule",
            AppConfigurationEntry.LoginModuleControlFlag.REQUIRED, options)};
      }
    };
    LoginContext login = new LoginContext("thrum", null, null, kerberos);
    login.login();
    Subject.doAs(login.getSubject(), call);
  }
}
